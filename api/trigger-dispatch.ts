/**
 * Where a trigger instance becomes runs. The rules live in memory here, indexed by trigger type
 * (common/rule.ts), reloaded when they change — a rule change notifies every API process through
 * Postgres (db/rules.ts RULES_CHANNEL) — so matching an event costs no query. An event is recorded
 * (db/triggers.ts) before anything starts and its runs after; each run's workflow id derives from the
 * trigger instance and the rule, so a redelivery, or a dispatch repeated after a crash, starts nothing twice.
 *
 * Events arrive two ways: webhooks (dispatched in the request: the answer says what started) and the
 * outbox — sensors' events written `pending` by workers, dispatched here when Postgres notifies
 * TRIGGERS_CHANNEL (and every 15 s, and at start, for any missed).
 */
import crypto from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import type { TriggerRun } from '../common/api-types.js';
import { RuleIndex, renderRuleTarget, type RuleDef } from '../common/rule.js';
import { RULES_CHANNEL, listRules, type RuleRow } from '../db/rules.js';
import type { PoolClient } from '../db/pool.js';
import { TRIGGERS_CHANNEL, claimUndispatched, finishTrigger, getTrigger, insertTrigger, type NewTrigger } from '../db/triggers.js';
import type { ApiDeps, Dispatched, TriggerSink } from './deps.js';
import { ApiError } from './errors.js';
import { startExecution } from './execution-start.js';
import { pipelineRequests, startRun } from './pipeline-requests.js';
import type { Principal } from './security/permissions.js';

/** Work a trigger type starts by itself, before (and besides) the rules: a push's pipelines and re-ingests. */
export type BuiltinHandler = (t: NewTrigger) => Promise<{ runs: TriggerRun[]; note?: string; extra?: Record<string, unknown> }>;

/** Largest payload carried into a pipeline run's `trigger.payload` (beyond it, the run gets the digest only). */
const MAX_PAYLOAD_IN_RUN = 64 * 1024;
/** A dispatch begun this long ago and not finished was cut off (its process died): it is done again. */
const STALE_SECONDS = 120;

const shortHash = (s: string) => crypto.createHash('sha256').update(s).digest('hex').slice(0, 16);

export class TriggerDispatcher implements TriggerSink {
  private index = new RuleIndex([]);
  private rules = new Map<string, RuleRow>();
  private listener: PoolClient | undefined;
  private timer: NodeJS.Timeout | undefined;
  private draining: Promise<void> | undefined;
  private drainAgain = false;
  private stopped = false;
  private readonly requests;

  constructor(
    private readonly deps: ApiDeps,
    private readonly builtins: Record<string, BuiltinHandler> = {},
  ) {
    this.requests = pipelineRequests(deps);
  }

  /** Loads the rules, listens for changes and pending events, and dispatches those already waiting. */
  async start(): Promise<void> {
    await this.reload();
    await this.listen();
    this.timer = setInterval(() => void this.drain(), 15_000);
    this.timer.unref();
    void this.drain();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.draining;
    this.listener?.release(true);
    this.listener = undefined;
  }

  get ruleCount(): number {
    return this.rules.size;
  }

  private async listen(): Promise<void> {
    if (this.stopped) return;
    try {
      const c = await this.deps.pool.connect();
      c.on('notification', (n) => {
        if (n.channel === RULES_CHANNEL) void this.reload();
        else if (n.channel === TRIGGERS_CHANNEL) void this.drain();
      });
      c.on('error', () => {
        // The connection broke: listen again on a new one and catch up on what was missed.
        c.release(true);
        if (this.listener === c) this.listener = undefined;
        setTimeout(() => void this.listen().then(() => Promise.all([this.reload(), this.drain()])), 1000).unref();
      });
      await c.query(`LISTEN ${RULES_CHANNEL}`);
      await c.query(`LISTEN ${TRIGGERS_CHANNEL}`);
      this.listener = c;
    } catch (err) {
      this.deps.logger.warn({ err: (err as Error).message }, 'trigger dispatcher cannot listen; retrying');
      setTimeout(() => void this.listen(), 2000).unref();
    }
  }

  /** Rebuilds the index from the rules table (after an apply here, or a notification from elsewhere). */
  async reload(): Promise<void> {
    try {
      const rows = await listRules(this.deps.pool);
      const index = new RuleIndex(rows.filter((r) => r.enabled).map((r) => r.definition as RuleDef));
      this.rules = new Map(rows.map((r) => [r.name, r]));
      this.index = index;
    } catch (err) {
      this.deps.logger.error({ err: (err as Error).message }, 'rules could not be loaded; the previous index stays');
    }
  }

  /** A trigger reported now (a webhook delivery): recorded, matched, its runs started; a known id is a duplicate. */
  async receive(t: NewTrigger): Promise<Dispatched> {
    // No transaction is held while workflows start: a request holds one pooled connection at a time.
    if (!(await insertTrigger(this.deps.pool, t, 'received'))) {
      this.deps.metrics?.triggers.inc({ type: t.type, outcome: 'duplicate' });
      const earlier = await getTrigger(this.deps.pool, t.id);
      return { trigger: t.id, duplicate: true, matched: earlier?.matched ?? [], runs: earlier?.runs ?? [], note: earlier?.note ?? null };
    }
    return { ...(await this.dispatch(t)), duplicate: false };
  }

  /**
   * Dispatches what is waiting: sensors' pending events, and instances whose dispatch a crash cut off
   * (received more than STALE_SECONDS ago and not finished) — again, which starts nothing twice.
   */
  drain(): Promise<void> {
    if (this.draining) {
      this.drainAgain = true;
      return this.draining;
    }
    this.draining = (async () => {
      do {
        this.drainAgain = false;
        let n = 0;
        do {
          if (this.stopped) return;
          try {
            const batch = await claimUndispatched(this.deps.pool, 20, STALE_SECONDS);
            for (const t of batch) await this.dispatch(t);
            n = batch.length;
          } catch (err) {
            this.deps.logger.error({ err: (err as Error).message }, 'pending triggers could not be dispatched; retrying later');
            n = 0;
          }
        } while (n > 0);
      } while (this.drainAgain);
    })().finally(() => (this.draining = undefined));
    return this.draining;
  }

  private async dispatch(t: NewTrigger): Promise<Omit<Dispatched, 'duplicate'>> {
    const runs: TriggerRun[] = [];
    const notes: string[] = [];
    let extra: Record<string, unknown> | undefined;
    const builtin = this.builtins[t.type];
    if (builtin) {
      try {
        const out = await builtin(t);
        runs.push(...out.runs);
        if (out.note) notes.push(out.note);
        extra = out.extra;
      } catch (err) {
        runs.push({ workflowId: `(not started: ${t.type})`, kind: t.type, error: (err as Error).message });
      }
    }
    const matched = this.index.match(t.type, t.payload);
    for (const def of matched) runs.push(await this.fire(t, def));
    const failed = runs.filter((r) => r.error);
    if (!runs.length) notes.push(`no rule for ${t.type} matched`);
    const status: 'failed' | 'dispatched' = failed.length && failed.length === runs.length ? 'failed' : 'dispatched';
    const outcome = {
      status,
      note: notes.length ? notes.join('; ') : null,
      matched: matched.map((d) => ({ rule: d.name, version: this.rules.get(d.name)?.version ?? 0 })),
      runs,
    };
    await finishTrigger(this.deps.pool, t.id, outcome);
    this.deps.metrics?.triggers.inc({ type: t.type, outcome: status });
    this.deps.logger.info(
      { trigger: t.id, type: t.type, matched: outcome.matched.map((m) => m.rule), runs: runs.map((r) => r.workflowId), failed: failed.length },
      'trigger dispatched',
    );
    return { trigger: t.id, matched: outcome.matched, runs, note: outcome.note, ...(extra ? { extra } : {}) };
  }

  /** Starts a matched rule's target with the authority of whoever applied the rule. */
  private async fire(t: NewTrigger, def: RuleDef): Promise<TriggerRun> {
    const row = this.rules.get(def.name);
    const kind = def.action ? 'action' : 'pipeline';
    const notStarted = (error: string): TriggerRun => ({ workflowId: `(not started: rule ${def.name})`, kind, rule: def.name, error });
    if (!row) return notStarted('the rule was deleted while the event was being matched');
    const p: Principal = {
      actor: `rule:${def.name}`,
      role: row.appliedRole as Principal['role'],
      keyId: `rule:${def.name}@${row.version}`,
      scopes: row.appliedScopes,
      expiresAt: null,
      rateLimit: null,
    };
    const rendered = renderRuleTarget(def, t.payload);
    if (rendered.problems.length)
      return notStarted(
        `its ${def.action ? 'parameters' : 'inputs'} could not be rendered from the payload: ${rendered.problems.map((x) => `${x.path}: ${x.message}`).join('; ')}`,
      );
    try {
      if (def.action) {
        const out = await startExecution(
          this.deps,
          p,
          {
            action: def.action.ref,
            parameters: rendered.values,
            ...(def.action.region ? { region: def.action.region } : {}),
          },
          { actor: p.actor, trigger: t.type, idempotencyKey: `${t.id}\0${def.name}`, triggerId: t.id, logger: this.deps.logger },
        );
        return { workflowId: String(out.body.workflowId), kind, rule: def.name };
      }
      const target = def.pipeline!;
      const runId = `pipeline.${target.name}.rule-${shortHash(`${t.id}\0${def.name}`)}`;
      const { run } = await this.requests.build(
        p,
        {
          ...(target.component !== undefined ? { component: target.component, ...(target.ref ? { ref: target.ref } : {}) } : { pack: target.pack! }),
          pipeline: target.name,
          inputs: rendered.values,
          ...(target.region ? { region: target.region } : {}),
          trigger: t.type,
        },
        runId,
      );
      const size = Buffer.byteLength(JSON.stringify(t.payload ?? null));
      run.trigger = {
        kind: t.type,
        id: t.id,
        rule: def.name,
        actor: p.actor,
        ...(size <= MAX_PAYLOAD_IN_RUN ? { payload: t.payload } : { payloadTooLarge: size }),
      };
      try {
        await startRun(this.deps.client, run, t.type, t.id);
      } catch (err) {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      }
      return { workflowId: runId, kind, rule: def.name };
    } catch (err) {
      if (err instanceof ApiError) return notStarted(err.message);
      return notStarted(`${(err as Error).name}: ${(err as Error).message}`);
    }
  }
}
