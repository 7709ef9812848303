/**
 * A deploy leg's health checks, on the region's worker: one pass over the component's checks
 * (`runChecks`, as a Sensu agent would run them, each result reported to Sensu), and `awaitHealthy`,
 * which repeats passes until every check is OK or the deadline passes. The waiting happens here, in
 * one heartbeating activity, not as a loop of activities and timers in the workflow: a 1-second
 * interval over a day's deadline would otherwise write ~500,000 events to the workflow's history, ten
 * times Temporal's limit.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { CheckResult, CheckSpec, HealthWait, HealthWaitResult } from '../common/deploy.js';
import { runProcess } from '../lib/spawn.js';
import { pluginDir } from '../lib/system-packages.js';
import { checkArgv, sensuEntity, type DeployDeps } from './deploy.js';

type ChecksInput = { component: string; environment: string; version: string; checks: CheckSpec[] };

/** What awaitHealthy heartbeats: enough for a retry on another worker to go on where this one was. */
interface HealthBeat {
  attempts: number;
  message: string;
}

export function createHealthActivities(deps: DeployDeps) {
  async function checkPass(input: ChecksInput, signal?: AbortSignal): Promise<CheckResult[]> {
    const vars = { component: input.component, version: input.version, environment: input.environment, region: deps.region };
    const plugins = pluginDir();
    const results: CheckResult[] = [];
    for (const c of input.checks) {
      // Sensu's timeout 0 means none; the activity's own limit still bounds it.
      const r = await runProcess({
        argv: checkArgv(c.command, vars, plugins),
        timeoutMs: c.timeout > 0 ? c.timeout * 1000 : 4 * 60_000,
        env: deps.scriptEnv,
        killGraceMs: 0,
        ...(signal ? { signal } : {}),
      });
      // The worker's own trouble starting it (its spawner died, no file descriptors left): retried.
      if (r.spawnError && ['ESPAWNER', 'EMFILE'].includes(r.spawnError.code ?? ''))
        throw ApplicationFailure.retryable(`check ${c.name}: the worker could not start it (${r.spawnError.message})`, 'CheckNotStarted');
      if (r.spawnError) {
        throw ApplicationFailure.nonRetryable(
          `check ${c.name}: cannot run ${checkArgv(c.command, vars, plugins)[0]} on ${deps.region} (${r.spawnError.code ?? r.spawnError.message}); install the plugin (Debian: monitoring-plugins) or fix the command`,
          'BadCheck',
        );
      }
      const timedOut = r.stoppedBy === 'timeout';
      const status = timedOut ? 2 : r.code === null ? 3 : Math.min(r.code, 3);
      const output = (timedOut ? `CRITICAL: timed out after ${c.timeout}s` : r.stdout.trim() || r.stderr.trim()).split('\n')[0].slice(0, 500);
      results.push({ name: c.name, status, output });
      if (deps.sensu)
        await deps.sensu
          .sendEvent(sensuEntity(input.component, input.environment, deps.region), c.name, status, output, c.interval)
          .catch((err: unknown) => deps.logger.warn({ err }, 'could not send the check result to Sensu'));
    }
    return results;
  }

  return {
    /** One pass over the component's checks, as a Sensu agent would run them (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN). */
    async runChecks(input: ChecksInput): Promise<CheckResult[]> {
      return checkPass(input);
    },

    /**
     * Passes over the checks every `intervalSeconds` until all are OK or the deadline (a time, fixed by
     * the workflow, so a retry on another worker keeps it) passes: `Unhealthy` then, naming the failing
     * checks. Heartbeats every second with the attempt and what is still failing.
     */
    async awaitHealthy(input: HealthWait): Promise<HealthWaitResult> {
      const ctx = Context.current();
      const resumed = ctx.info.heartbeatDetails as HealthBeat | undefined;
      let attempts = resumed?.attempts ?? 0;
      let message = resumed?.message ?? 'starting';
      const beat = setInterval(() => ctx.heartbeat({ attempts, message } satisfies HealthBeat), 1000);
      try {
        for (;;) {
          attempts++;
          const results = await checkPass(input, ctx.cancellationSignal);
          const failing = results.filter((r) => r.status !== 0);
          if (failing.length === 0) return { results, attempts };
          const left = Math.max(0, Math.round((input.deadline - Date.now()) / 1000));
          message = `waiting for ${failing.map((f) => f.name).join(', ')} healthy, attempt ${attempts}, ${left}s left`;
          ctx.heartbeat({ attempts, message } satisfies HealthBeat);
          if (Date.now() + input.intervalSeconds * 1000 > input.deadline)
            throw ApplicationFailure.nonRetryable(
              `not healthy within ${input.timeoutSeconds}s (${attempts} attempts): ${failing.map((f) => `${f.name}: ${f.output}`).join('; ')}`,
              'Unhealthy',
            );
          await ctx.sleep(input.intervalSeconds * 1000);
        }
      } finally {
        clearInterval(beat);
      }
    },
  };
}
