/**
 * Masterless `puppet apply` of a component's role with per-run Hiera data from the source of truth:
 * on the worker, or on a bare-metal host over SSH (lib/ssh.ts, runners/remote-puppet.sh) with the same
 * manifest, Hiera data and, when the operator's modules are used, those modules sent along.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ApplicationFailure, Context } from '@temporalio/activity';
import YAML from 'yaml';
import type { PuppetSummary } from '../common/deploy.js';
import type { RemoteHost } from '../common/types.js';
import { PUPPET_CLASS } from '../common/validation.js';
import { PROJECT_ROOT } from '../lib/config.js';
import { REMOTE_SETUP_FAILED, RUN_DIR_TOKEN, sshFailure, type SshTarget } from '../lib/ssh.js';
import { runProcess } from '../lib/spawn.js';
import { puppetBinary } from '../lib/system-packages.js';
import { openSecretRefs } from './platform-secrets.js';
import { startRemoteScript } from './remote-script.js';
import type { ActivityDeps } from './run-action.js';

/** Where Puppet's autoloader looks for a class: role::web::front → role/manifests/web/front.pp. */
function roleFile(role: string): string {
  const [module, ...rest] = role.split('::');
  return path.join(module, 'manifests', rest.length ? `${rest.join('/')}.pp` : 'init.pp');
}

function roleManifest(role: string, modulePath: string[]): string | undefined {
  return modulePath.map((d) => path.join(d, roleFile(role))).find((f) => fs.existsSync(f));
}

/** Hiera interpolates %{…} in values; data from the source of truth is taken literally. */
function hieraLiteral(v: unknown): unknown {
  if (typeof v === 'string') return v.replaceAll('%{', "%{literal('%')}{");
  if (Array.isArray(v)) return v.map(hieraLiteral);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, hieraLiteral(x)]));
  return v;
}

/** The stand-in role class used without the operator's modules: it manages the component's config file. */
function standInRole(role: string): string {
  // Only validated identifiers go into the manifest; every value comes through Hiera lookups.
  return [
    `class ${role} {`,
    "  $root = lookup('stackwire::state_dir')",
    "  $config = lookup('stackwire::config')",
    '  file { $root: ensure => directory }',
    '  file { "${root}/config.yaml":',
    '    ensure  => file,',
    '    content => inline_epp("<% \\$config.keys.sort.each |\\$k| { %><%= \\$k %>: <%= \\$config[\\$k] %>\\n<% } %>", { \'config\' => $config }),',
    '  }',
    '}',
    `include ${role}`,
    '',
  ].join('\n');
}

export interface PuppetApplyInput {
  component: string;
  role: string;
  hiera: Record<string, unknown>;
  version: string;
  environment: string;
  noop: boolean;
  /** Apply on this bare-metal host over SSH instead of on the worker. */
  remote?: RemoteHost;
}

/** Marks the start of the summary in a remote run's output (runners/remote-puppet.sh). */
const SUMMARY_MARK = '@@stackwire: puppet summary@@';

export function createPuppetActivities(deps: ActivityDeps) {
  /**
   * The run's files: data/run.yaml, hiera.yaml (its datadir relative, so the folder can move to a
   * host), site.pp and, for a host, the operator's modules under modules/mNN.
   */
  function writeRun(dir: string, input: PuppetApplyInput, stateDir: string): void {
    fs.mkdirSync(path.join(dir, 'data'), { recursive: true });
    const data = {
      ...(hieraLiteral({
        ...input.hiera,
        'stackwire::component': input.component,
        'stackwire::version': input.version,
        'stackwire::environment': input.environment,
        'stackwire::region': deps.region,
        'stackwire::config': { ...input.hiera, version: input.version },
      }) as Record<string, unknown>),
      // Ours: on a host it interpolates the SSH user's home (a fact its run sets).
      'stackwire::state_dir': stateDir,
    };
    fs.writeFileSync(path.join(dir, 'data', 'run.yaml'), YAML.stringify(data));
    fs.writeFileSync(
      path.join(dir, 'hiera.yaml'),
      YAML.stringify({ version: 5, defaults: { datadir: 'data', data_hash: 'yaml_data' }, hierarchy: [{ name: 'stackwire run', path: 'run.yaml' }] }),
    );
    // With the operator's modules, the real role class is applied (it reads the same Hiera data);
    // without them, a stand-in class of that name manages the component's config file.
    const modulePath = deps.puppetModulePath;
    if (modulePath) {
      if (!roleManifest(input.role, modulePath))
        throw ApplicationFailure.nonRetryable(
          `puppet role ${input.role} is not in the module path (${modulePath.join(':')}): expected ${roleFile(input.role)} in one of its folders`,
          'BadRole',
        );
      fs.writeFileSync(path.join(dir, 'site.pp'), `include ${input.role}\n`);
      if (input.remote)
        modulePath.forEach((m, i) => fs.cpSync(m, path.join(dir, 'modules', `m${String(i).padStart(2, '0')}`), { recursive: true, verbatimSymlinks: true }));
    } else fs.writeFileSync(path.join(dir, 'site.pp'), standInRole(input.role));
    if (input.remote && input.noop) fs.writeFileSync(path.join(dir, 'noop'), '');
  }

  async function applyHere(input: PuppetApplyInput, signal: AbortSignal) {
    const puppet = puppetBinary();
    if (!puppet) throw ApplicationFailure.nonRetryable('puppet is not installed on this worker (Debian package puppet-agent)', 'PuppetMissing');
    const run = fs.mkdtempSync(path.join(os.tmpdir(), 'stackwire-puppet-'));
    try {
      return await applyIn(run, puppet, input, signal);
    } finally {
      fs.rmSync(run, { recursive: true, force: true });
    }
  }

  async function applyIn(run: string, puppet: string, input: PuppetApplyInput, signal: AbortSignal) {
    const stateDir = path.join(deps.dataDir, 'deployments', input.environment, deps.region, input.component);
    fs.mkdirSync(path.dirname(stateDir), { recursive: true });
    for (const d of ['var', 'conf', 'code']) fs.mkdirSync(path.join(run, d));
    writeRun(run, input, stateDir);
    const summaryFile = path.join(run, 'last_run_summary.yaml');
    const modulePath = deps.puppetModulePath;
    const argv = [
      puppet,
      'apply',
      '--detailed-exitcodes',
      '--color',
      'false',
      '--vardir',
      path.join(run, 'var'),
      '--confdir',
      path.join(run, 'conf'),
      '--codedir',
      path.join(run, 'code'),
      '--hiera_config',
      path.join(run, 'hiera.yaml'),
      ...(modulePath ? ['--modulepath', modulePath.join(':')] : []),
      '--lastrunfile',
      summaryFile,
      '--logdest',
      'console',
      ...(input.noop ? ['--noop'] : []),
      path.join(run, 'site.pp'),
    ];
    const r = await runProcess({ argv, cwd: run, timeoutMs: 10 * 60_000, env: { ...deps.scriptEnv, HOME: run }, signal });
    const summary = fs.existsSync(summaryFile) ? fs.readFileSync(summaryFile, 'utf8') : '';
    return { code: r.code, stoppedBy: r.stoppedBy, output: r.stdout.concat(r.stderr), summary, where: 'this worker' };
  }

  async function applyOnHost(input: PuppetApplyInput & { remote: RemoteHost }, signal: AbortSignal) {
    const remote = input.remote;
    const target: SshTarget = { ...remote, privateKey: (await openSecretRefs(deps, { k: remote.sshKey })).k ?? '' };
    // The state folder is the SSH user's (its home, a fact the host's run sets), like the worker's own data folder here.
    const stateDir = `%{facts.stackwire_home}/.stackwire/deployments/${input.environment}/${deps.region}/${input.component}`;
    let out = '';
    const keep = (c: Buffer) => {
      out += c.toString('utf8');
      if (out.length > 1 << 20) out = out.slice(-(1 << 20));
    };
    const { proc, work } = await startRemoteScript(deps, {
      target,
      label: `puppet.${input.component}.${remote.host}`,
      argv: ['sh', `${RUN_DIR_TOKEN}/remote-puppet.sh`],
      env: {},
      stage: (dir) => {
        writeRun(dir, input, stateDir);
        fs.copyFileSync(path.join(PROJECT_ROOT, 'runners', 'remote-puppet.sh'), path.join(dir, 'remote-puppet.sh'));
        fs.writeFileSync(path.join(dir, 'state_parent'), `.stackwire/deployments/${input.environment}/${deps.region}\n`);
      },
      timeoutMs: 10 * 60_000,
      killGraceMs: (deps.killGraceSeconds ?? 5) * 1000,
      signal,
      onStdout: keep,
      onStderr: keep,
    });
    try {
      const r = await proc.done;
      const at = out.lastIndexOf(SUMMARY_MARK);
      const where = `${remote.user}@${remote.host}`;
      if (r.code === 255) {
        const f = sshFailure(out, target);
        if (f) throw ApplicationFailure.create({ message: f.message, type: f.type, nonRetryable: !f.retryable });
      }
      if (r.code === 97) throw ApplicationFailure.nonRetryable(`puppet is not installed on ${where} (Debian package puppet-agent)`, 'PuppetMissing');
      if (r.code === REMOTE_SETUP_FAILED && at < 0)
        throw ApplicationFailure.nonRetryable(`${where}: the run could not be set up: ${out.trim().split('\n').pop() ?? ''}`, 'RemoteSetupFailed');
      return {
        code: r.code,
        stoppedBy: r.stoppedBy,
        output: at >= 0 ? out.slice(0, at) : out,
        summary: at >= 0 ? out.slice(at + SUMMARY_MARK.length) : '',
        where,
      };
    } finally {
      work.remove();
    }
  }

  return {
    /** Masterless `puppet apply` of the component's role with Hiera data from the source of truth. */
    async puppetApply(input: PuppetApplyInput): Promise<PuppetSummary> {
      if (!PUPPET_CLASS.test(input.role))
        throw ApplicationFailure.nonRetryable(`puppet role ${JSON.stringify(input.role)} is not a Puppet class name`, 'BadRole');
      const ctx = Context.current();
      const beat = setInterval(() => ctx.heartbeat(), 1000);
      const began = Date.now();
      try {
        const r = input.remote ? await applyOnHost({ ...input, remote: input.remote }, ctx.cancellationSignal) : await applyHere(input, ctx.cancellationSignal);
        const wallSeconds = (Date.now() - began) / 1000;
        // Facter prints harmless permission errors in sandboxes: judge by exit code and summary only.
        let summary: { resources?: Record<string, number> } = {};
        try {
          summary = (YAML.parse(r.summary) as typeof summary | null) ?? {};
        } catch {
          // No summary (puppet stopped before writing it): the exit code says enough.
        }
        const result: PuppetSummary = {
          exitCode: r.code ?? -1,
          noop: input.noop,
          changed: summary.resources?.changed ?? 0,
          failed: summary.resources?.failed ?? 0,
          outOfSync: summary.resources?.out_of_sync ?? 0,
          total: summary.resources?.total ?? 0,
          // Wall time of the whole run: the summary's time.total leaves out most of it (compiling, facts).
          timeSeconds: +wallSeconds.toFixed(3),
        };
        if (r.stoppedBy === 'timeout')
          throw ApplicationFailure.nonRetryable(`puppet apply on ${r.where} did not finish within 10 minutes`, 'PuppetFailed', result);
        if (r.code !== 0 && r.code !== 2) {
          const errors = r.output.split('\n').filter((l) => /^Error:/.test(l) && !/Facter/.test(l));
          throw ApplicationFailure.nonRetryable(
            `puppet apply ${input.remote ? `on ${r.where} ` : ''}failed (exit ${r.code}): ${errors.slice(-2).join(' ') || 'see the worker log'}`,
            'PuppetFailed',
            result,
          );
        }
        deps.logger.info({ component: input.component, ...(input.remote ? { host: input.remote.host } : {}), ...result }, 'puppet apply');
        return result;
      } finally {
        clearInterval(beat);
      }
    },
  };
}
