/**
 * The side effects of a deploy, on the region's worker: read the source-of-truth snapshot, run
 * `puppet apply` (masterless, per-run Hiera), run the component's Sensu-style checks with the
 * monitoring plugins, silence/unsilence them in Sensu when a backend is configured, and record
 * each deployment.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { parse as parseShellWords } from 'shell-quote';
import YAML from 'yaml';
import { substitute, type CheckSpec, type ComponentSnapshot, type PuppetSummary } from '../common/deploy.js';
import { getCurrentAction } from '../db/actions.js';
import { currentVersions, recordDeployment, type DeploymentRecordInput } from '../db/deployments.js';
import type { Pool } from '../db/pool.js';
import { getComponent } from '../db/sot.js';
import { gitUrlProblem } from '../common/git-url.js';
import type { Config } from '../lib/config.js';
import { GitError, cloneRepository, git, withGitScratch } from '../lib/git.js';
import type { Logger } from '../lib/logger.js';
import { runProcess } from '../lib/spawn.js';
import { SensuClient } from '../lib/sensu.js';
import { SecretKeyError, sealSecrets } from '../lib/secrets.js';
import { puppetBinary } from '../lib/system-packages.js';
import { PUPPET_CLASS } from '../common/validation.js';

export interface DeployDeps {
  pool: Pool;
  /** The operator's Puppet modules; unset: a stand-in class is generated for each role. */
  puppetModulePath?: string[] | undefined;
  /** Seals the deploy action's secret parameters taken from the source of truth. */
  secretKey: Buffer | undefined;
  region: string;
  dataDir: string;
  logger: Logger;
  /** PATH, LANG, TZ: puppet and the checks run as the worker's user (Puppet needs root) but get nothing else of its environment. */
  scriptEnv: Record<string, string>;
  sensu: SensuClient | undefined;
  /** Which repositories `release --since` may clone. */
  git: Config['git'];
}

/** A Sensu check command as argv: tokenised like a shell would (quotes), but no shell and no operators. */
export function checkArgv(command: string, vars: Record<string, string>, plugins: string | undefined): string[] {
  const tokens = parseShellWords(command);
  const words = tokens.map((t) => {
    if (typeof t !== 'string')
      throw ApplicationFailure.nonRetryable(
        `check command ${JSON.stringify(command)} uses shell syntax (${JSON.stringify(t)}); a check is one program and its arguments`,
        'BadCheck',
      );
    return substitute(t, vars);
  });
  if (!words.length) throw ApplicationFailure.nonRetryable('empty check command', 'BadCheck');
  if (!words[0].includes('/') && plugins && fs.existsSync(path.join(plugins, words[0]))) words[0] = path.join(plugins, words[0]);
  return words;
}

/** The Sensu proxy entity a component's check results are reported under, per environment and region. */
export function sensuEntity(component: string, environment: string, region: string): string {
  return `${component}-${environment}-${region}`;
}

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

export function createDeployActivities(deps: DeployDeps) {
  return {
    async loadDeploySnapshot(req: { component: string; environment: string }): Promise<ComponentSnapshot> {
      const c = await getComponent(deps.pool, req.component);
      if (!c) throw ApplicationFailure.nonRetryable(`no component named ${req.component} in the source of truth`, 'UnknownComponent');
      const regions = c.placements[req.environment];
      if (!regions?.length) throw ApplicationFailure.nonRetryable(`${req.component} is not placed in environment ${req.environment}`, 'NotPlaced');
      const running = await currentVersions(deps.pool, req.component, req.environment);
      const previous = Object.fromEntries(regions.map((r) => [r, running.get(r) ?? null]));
      const deployAction = c.actions.deploy ? await getCurrentAction(deps.pool, c.actions.deploy) : undefined;
      if (c.actions.deploy && !deployAction)
        throw ApplicationFailure.nonRetryable(`${req.component}'s deploy action ${c.actions.deploy} is not in the catalog`, 'UnknownAction');
      const rollbackAction = c.actions.rollback ? await getCurrentAction(deps.pool, c.actions.rollback) : deployAction;
      if (c.actions.rollback && !rollbackAction)
        throw ApplicationFailure.nonRetryable(`${req.component}'s rollback action ${c.actions.rollback} is not in the catalog`, 'UnknownAction');
      // Deploy parameters the action declares secret never enter workflow history in clear text.
      let deployParams = c.deployParams;
      for (const a of [deployAction, rollbackAction]) {
        if (!a) continue;
        try {
          deployParams = sealSecrets(a, deployParams, deps.secretKey);
        } catch (err) {
          if (err instanceof SecretKeyError) throw ApplicationFailure.nonRetryable(err.message, 'SecretKeyMissing');
          throw err;
        }
      }
      return {
        name: c.name,
        platform: c.platform,
        puppetRole: c.puppetRole,
        hiera: c.hiera,
        checks: c.checks,
        deployParams,
        dependsOn: c.dependsOn,
        regions,
        previousVersions: previous,
        ...(deployAction ? { deployAction } : {}),
        ...(rollbackAction ? { rollbackAction } : {}),
        ...(c.platformSettings ? { platformSettings: c.platformSettings } : {}),
      };
    },

    /** Masterless `puppet apply` of the component's role with Hiera data from the source of truth. */
    async puppetApply(input: {
      component: string;
      role: string;
      hiera: Record<string, unknown>;
      version: string;
      environment: string;
      noop: boolean;
    }): Promise<PuppetSummary> {
      const puppet = puppetBinary();
      if (!puppet) throw ApplicationFailure.nonRetryable('puppet is not installed on this worker (Debian package puppet-agent)', 'PuppetMissing');
      if (!PUPPET_CLASS.test(input.role))
        throw ApplicationFailure.nonRetryable(`puppet role ${JSON.stringify(input.role)} is not a Puppet class name`, 'BadRole');
      const run = fs.mkdtempSync(path.join(os.tmpdir(), 'stackwire-puppet-'));
      try {
        const stateDir = path.join(deps.dataDir, 'deployments', input.environment, deps.region, input.component);
        fs.mkdirSync(path.dirname(stateDir), { recursive: true });
        for (const d of ['data', 'var', 'conf', 'code']) fs.mkdirSync(path.join(run, d));
        const data = {
          ...input.hiera,
          'stackwire::component': input.component,
          'stackwire::version': input.version,
          'stackwire::environment': input.environment,
          'stackwire::region': deps.region,
          'stackwire::state_dir': stateDir,
          'stackwire::config': { ...input.hiera, version: input.version },
        };
        fs.writeFileSync(path.join(run, 'data', 'run.yaml'), YAML.stringify(hieraLiteral(data)));
        fs.writeFileSync(
          path.join(run, 'hiera.yaml'),
          YAML.stringify({
            version: 5,
            defaults: { datadir: path.join(run, 'data'), data_hash: 'yaml_data' },
            hierarchy: [{ name: 'stackwire run', path: 'run.yaml' }],
          }),
        );
        // With the operator's modules, the real role class is applied (it reads the same Hiera data);
        // without them, a stand-in class of that name manages the component's config file.
        const modulePath = deps.puppetModulePath;
        if (modulePath) {
          const file = roleManifest(input.role, modulePath);
          if (!file)
            throw ApplicationFailure.nonRetryable(
              `puppet role ${input.role} is not in the module path (${modulePath.join(':')}): expected ${roleFile(input.role)} in one of its folders`,
              'BadRole',
            );
          fs.writeFileSync(path.join(run, 'site.pp'), `include ${input.role}\n`);
        } else {
          // Only validated identifiers go into the manifest; every value comes through Hiera lookups.
          fs.writeFileSync(
            path.join(run, 'site.pp'),
            [
              `class ${input.role} {`,
              "  $root = lookup('stackwire::state_dir')",
              "  $config = lookup('stackwire::config')",
              '  file { $root: ensure => directory }',
              '  file { "${root}/config.yaml":',
              '    ensure  => file,',
              '    content => inline_epp("<% \\$config.keys.sort.each |\\$k| { %><%= \\$k %>: <%= \\$config[\\$k] %>\\n<% } %>", { \'config\' => $config }),',
              '  }',
              '}',
              `include ${input.role}`,
              '',
            ].join('\n'),
          );
        }
        const summaryFile = path.join(run, 'last_run_summary.yaml');
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
        const began = Date.now();
        const ctx = Context.current();
        const beat = setInterval(() => ctx.heartbeat(), 1000);
        const r = await runProcess({
          argv,
          cwd: run,
          timeoutMs: 10 * 60_000,
          env: { ...deps.scriptEnv, HOME: run },
          signal: ctx.cancellationSignal,
        }).finally(() => clearInterval(beat));
        const wallSeconds = (Date.now() - began) / 1000;
        // Facter prints harmless permission errors in sandboxes: judge by exit code and summary only.
        const summary = fs.existsSync(summaryFile)
          ? (YAML.parse(fs.readFileSync(summaryFile, 'utf8')) as { resources?: Record<string, number>; time?: Record<string, number> })
          : {};
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
        if (r.stoppedBy === 'timeout') throw ApplicationFailure.nonRetryable('puppet apply did not finish within 10 minutes', 'PuppetFailed', result);
        if (r.code !== 0 && r.code !== 2) {
          const errors = r.stdout
            .concat(r.stderr)
            .split('\n')
            .filter((l) => /^Error:/.test(l) && !/Facter/.test(l));
          throw ApplicationFailure.nonRetryable(
            `puppet apply failed (exit ${r.code}): ${errors.slice(-2).join(' ') || 'see the worker log'}`,
            'PuppetFailed',
            result,
          );
        }
        deps.logger.info({ component: input.component, ...result }, 'puppet apply');
        return result;
      } finally {
        fs.rmSync(run, { recursive: true, force: true });
      }
    },

    /** Which components' repositories have commits since a tag; their version is `git describe` of HEAD. */
    async changedSince(input: {
      tag: string;
      components: { name: string; repository: string }[];
    }): Promise<{ changed: { name: string; version: string; commits: number }[]; unchanged: string[]; warnings: string[] }> {
      if (!/^[\w][\w./-]{0,127}$/.test(input.tag)) throw ApplicationFailure.nonRetryable(`tag ${JSON.stringify(input.tag)} is not a tag name`, 'BadTag');
      const out = { changed: [] as { name: string; version: string; commits: number }[], unchanged: [] as string[], warnings: [] as string[] };
      // Every repository is checked against the git source policy before any is cloned.
      const refused = input.components.map((c) => gitUrlProblem(c.repository, deps.git)).filter((p) => p !== undefined);
      if (refused.length) throw ApplicationFailure.nonRetryable(refused.join(' '), 'GitSourceRefused');
      const ctx = Context.current();
      const beat = setInterval(() => ctx.heartbeat(), 1000);
      try {
        for (const c of input.components) {
          await withGitScratch('stackwire-since-', { policy: deps.git, baseEnv: deps.scriptEnv, signal: ctx.cancellationSignal }, async (g, repo) => {
            try {
              await cloneRepository(g, c.repository, repo, { bare: true });
            } catch (err) {
              if (!(err instanceof GitError)) throw err;
              if (ctx.cancellationSignal.aborted) throw err;
              out.warnings.push(`${c.name}: cannot clone ${c.repository}: ${err.message}`);
              return;
            }
            const hasTag = await git(g, ['--git-dir', repo, 'rev-parse', '--verify', '--quiet', `refs/tags/${input.tag}`]).then(
              () => true,
              () => false,
            );
            const count = hasTag ? Number(await git(g, ['--git-dir', repo, 'rev-list', '--count', `${input.tag}..HEAD`])) : -1;
            if (!hasTag) out.warnings.push(`${c.name}: ${c.repository} has no tag ${input.tag}; taken as changed`);
            if (count === 0) {
              out.unchanged.push(c.name);
              return;
            }
            const version = await git(g, ['--git-dir', repo, 'describe', '--tags', '--always', 'HEAD']);
            out.changed.push({ name: c.name, version, commits: count });
          });
        }
      } finally {
        clearInterval(beat);
      }
      return out;
    },

    /**
     * Silences the component's checks for this environment and region only: one silence per check on
     * the entity Stackwire reports them under (entity:<component>-<environment>-<region>), never on a
     * subscription, which would also silence other environments. On a failure the silences made so
     * far are removed again, unless bestEffort (a rollback must not stop because Sensu is down).
     */
    async sensuSilence(input: {
      component: string;
      environment: string;
      checks: CheckSpec[];
      reason: string;
      actor: string;
      bestEffort?: boolean;
      /** How long the silences last (common/deploy.ts silenceSeconds: as long as the leg may run); 3600 for legs started before it was given. */
      expireSeconds?: number;
    }): Promise<string[]> {
      if (!deps.sensu) return [];
      const names: string[] = [];
      try {
        for (const c of input.checks)
          names.push(
            await deps.sensu.silence(
              `entity:${sensuEntity(input.component, input.environment, deps.region)}`,
              c.name,
              input.reason,
              input.expireSeconds ?? 3600,
              input.actor,
            ),
          );
      } catch (err) {
        if (input.bestEffort) {
          deps.logger.warn({ err, component: input.component }, 'could not silence the checks in Sensu; going on (rollback)');
          return names;
        }
        for (const n of names) await deps.sensu.unsilence(n).catch(() => undefined);
        throw err;
      }
      return names;
    },

    /** Removes silences; a Sensu that cannot be reached is logged, never a reason to fail a deploy (the silences expire). */
    async sensuUnsilence(names: string[]): Promise<void> {
      for (const n of names) {
        await deps.sensu
          ?.unsilence(n)
          .catch((err: unknown) =>
            deps.logger.warn({ err, silence: n }, 'could not remove a Sensu silence; it expires by itself when the leg would have ended at the latest'),
          );
      }
    },

    async recordDeployment(r: DeploymentRecordInput): Promise<void> {
      await recordDeployment(deps.pool, r);
    },
  };
}
