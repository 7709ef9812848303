/**
 * The side effects of a deploy, on the region's worker: read the source-of-truth snapshot (puppet
 * apply is puppet.ts), run the component's Sensu-style checks with the
 * monitoring plugins, silence/unsilence them in Sensu when a backend is configured, and record
 * each deployment.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { parse as parseShellWords } from 'shell-quote';
import { substitute, type CheckSpec, type ComponentSnapshot } from '../common/deploy.js';
import { getCurrentAction } from '../db/actions.js';
import { REMOTE_RUNNERS } from './script-process.js';
import { currentVersions, recordDeployment, type DeploymentRecordInput } from '../db/deployments.js';
import type { Pool } from '../db/pool.js';
import { getComponent } from '../db/sot.js';
import { gitUrlProblem } from '../common/git-url.js';
import type { Config } from '../lib/config.js';
import { GitError, cloneRepository, git, withGitScratch } from '../lib/git.js';
import type { Logger } from '../lib/logger.js';
import { SensuClient } from '../lib/sensu.js';
import { SecretKeyError, sealSecrets } from '../lib/secrets.js';

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
      // A bare-metal component's actions run on its hosts with their interpreters: say so before anything runs.
      const bare = c.platformSettings?.platform === 'bare-metal' ? c.platformSettings.bareMetal : undefined;
      if (bare && regions.some((r) => (bare.hosts[r] ?? []).length))
        for (const a of [deployAction, rollbackAction])
          if (a && !REMOTE_RUNNERS.includes(a.runner))
            throw ApplicationFailure.nonRetryable(
              `${req.component} runs on bare metal, so ${a.name} runs on its hosts over SSH, but its runner ${a.runner} cannot run there: only ${REMOTE_RUNNERS.join(', ')} scripts do (with the host's interpreter)`,
              'ActionNotRunnable',
            );
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
