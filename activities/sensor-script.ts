/**
 * A script sensor's process: an ingested action run with the isolation of an action run (the run user,
 * a working folder of its own, an allow-listed environment, the pack version materialised here; see
 * script-process.ts), for as long as it lives. Every line it prints on stdout that is a JSON object
 * becomes a `sensor.<name>` trigger instance whose payload is that object, recorded as it comes (in small
 * batches) — the key is the line's `id` when it has one (so an id printed again, by this process or a
 * later one, is no new event), else a hash of (this process start, line number). Other lines are
 * ignored (counted); stderr goes to the worker's log, its tail into the result.
 *
 * Heartbeats every second; a cancellation (the sensor deleted, the worker shutting down) stops the
 * process group. The action's own timeout does not apply: a sensor runs until it ends or is stopped,
 * and its workflow starts it again after a pause.
 */
import crypto from 'node:crypto';
import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import { lineId } from '../common/sensors.js';
import type { ActionSpec } from '../common/types.js';
import { redact } from '../lib/secrets.js';
import type { RunningProcess } from '../lib/spawn.js';
import type { ActivityDeps } from './run-action.js';
import { datastoreHandler, packConfig, packPython, shimRequest } from './st2-runtime.js';
import { actionPackDir, openParameters, scriptCommand, startIsolatedScript } from './script-process.js';
import { emitSensorEvents, type SensorEvent } from './triggers.js';

export interface RunSensorScriptInput {
  sensor: string;
  /** `sensor.<name>`. */
  type: string;
  action: ActionSpec;
  /** Validated, secret values sealed. */
  parameters: Record<string, unknown>;
}

export interface RunSensorScriptResult {
  exitCode: number | null;
  signal: string | null;
  /** Lines read from stdout. */
  lines: number;
  emitted: number;
  duplicates: number;
  /** Lines that were not a JSON object (or were too long). */
  ignored: number;
  lastEventAt: string | null;
  durationMs: number;
  stderrTail: string;
}

/** A line longer than this is not read as an event. */
const MAX_LINE_BYTES = 1024 * 1024;
const BATCH = 100;
const FLUSH_MS = 250;
const STDERR_TAIL = 2048;
const STDERR_LOG_LINES = 200;

export function createRunSensorScript(deps: ActivityDeps) {
  const grace = (deps.killGraceSeconds ?? 5) * 1000;
  return async function runSensorScript(input: RunSensorScriptInput): Promise<RunSensorScriptResult> {
    const ctx = Context.current();
    const info = ctx.info;
    const { action } = input;
    const log = deps.logger.child({ sensor: input.sensor, action: action.name });
    if (action.runner === 'builtin')
      throw ApplicationFailure.nonRetryable(`${action.name} is a built-in, not a script: it cannot run as a sensor`, 'ActionNotRunnable');
    const { clear, secrets } = openParameters(deps, action, input.parameters);
    const packDir = await actionPackDir(deps, action);
    const argv = scriptCommand(deps, action, clear, packDir);
    // A StackStorm python-script action: its pack's config, datastore and Python environment, as for a run.
    const st2 = action.runner === 'st2-python' ? await packConfig(deps, action.pack, packDir) : undefined;
    const mask = (v: string) => {
      if (v === '' || secrets.includes(v)) return;
      secrets.push(v);
      secrets.sort((a, b) => b.length - a.length);
    };
    st2?.secrets.forEach(mask);
    if (st2) {
      const python = await packPython({ ...deps, venvRoot: deps.runLayout.venvs }, action.pack, packDir, (line) => log.info({ line }, 'pack environment'));
      if (python) argv[0] = python;
    }
    // This process start: the key of lines without an id of their own.
    const startKey = `${info.workflowExecution?.runId ?? ''}/${info.activityId}/${info.attempt}`;

    let lines = 0;
    let ignored = 0;
    let emitted = 0;
    let duplicates = 0;
    let lastEventAt: string | null = null;
    let stderrLogged = 0;
    let stderrTail = '';
    let partial = '';
    let partialBytes = 0;
    let skipping = false;
    let batch: SensorEvent[] = [];
    let chain: Promise<void> = Promise.resolve();
    let emitError: unknown;
    let running: RunningProcess | undefined;

    const flush = (): void => {
      if (!batch.length) return;
      const events = batch;
      batch = [];
      chain = chain.then(async () => {
        if (emitError) return;
        try {
          const r = await emitSensorEvents(deps.pool, { sensor: input.sensor, type: input.type, events });
          emitted += r.emitted;
          duplicates += r.duplicates;
          if (r.emitted) lastEventAt = new Date().toISOString();
        } catch (err) {
          emitError = err;
          log.error({ err }, 'could not record the sensor events; stopping the process');
          running?.stop('request');
        }
      });
    };
    const onLine = (raw: string): void => {
      lines++;
      const text = redact(raw.replace(/\r$/, ''), secrets).trim();
      if (text === '') return;
      let obj: unknown;
      try {
        obj = JSON.parse(text);
      } catch {
        obj = undefined;
      }
      if (!obj || typeof obj !== 'object' || Array.isArray(obj)) {
        ignored++;
        if (ignored <= 5) log.warn({ line: text.slice(0, 200) }, 'a sensor line that is not a JSON object was ignored');
        return;
      }
      const id = lineId(obj as Record<string, unknown>);
      const key = id ?? `line-${crypto.createHash('sha256').update(`${startKey}\0${lines}`).digest('hex').slice(0, 32)}`;
      batch.push({ key, payload: obj });
      if (batch.length >= BATCH) flush();
    };
    const onStdout = (chunk: Buffer): void => {
      let s = chunk.toString('utf8');
      for (;;) {
        const nl = s.indexOf('\n');
        const piece = nl < 0 ? s : s.slice(0, nl);
        if (!skipping) {
          partial += piece;
          partialBytes += Buffer.byteLength(piece);
          if (partialBytes > MAX_LINE_BYTES) {
            skipping = true;
            partial = '';
            ignored++;
            log.warn({ limitBytes: MAX_LINE_BYTES }, 'a sensor line longer than the limit was ignored');
          }
        }
        if (nl < 0) return;
        if (!skipping) onLine(partial);
        else lines++;
        partial = '';
        partialBytes = 0;
        skipping = false;
        s = s.slice(nl + 1);
      }
    };
    const onStderr = (chunk: Buffer): void => {
      const text = redact(chunk.toString('utf8'), secrets);
      stderrTail = (stderrTail + text).slice(-STDERR_TAIL);
      if (stderrLogged < STDERR_LOG_LINES) {
        for (const l of text.split('\n').filter((x) => x.trim() !== ''))
          if (stderrLogged++ < STDERR_LOG_LINES) log.info({ stderr: l.slice(0, 1000) }, 'sensor stderr');
      }
    };

    const started = Date.now();
    const { proc, work } = startIsolatedScript(deps, {
      action,
      argv,
      packDir,
      label: `sensor.${input.sensor}.${info.attempt}`,
      env: { STACKWIRE_SENSOR: input.sensor, STACKWIRE_ATTEMPT: String(info.attempt) },
      ...(st2 ? { stdin: shimRequest(action, clear, st2.config), channel: datastoreHandler(deps, action.pack, mask) } : {}),
      killGraceMs: grace,
      onStdout,
      onStderr,
    });
    running = proc;
    void proc.started.then((pid) => log.info({ scriptPid: pid }, 'sensor process started'));
    let cancelError: unknown;
    const timer = setInterval(flush, FLUSH_MS);
    const beat = setInterval(() => ctx.heartbeat({ lines, emitted, elapsedMs: Date.now() - started }), 1000);
    ctx.cancelled.catch((err: unknown) => {
      cancelError = err;
      log.warn({ reason: (err as Error).message }, 'stopping the sensor process: SIGTERM to its process group');
      proc.stop('abort');
    });
    let r;
    try {
      r = await proc.done;
    } finally {
      clearInterval(timer);
      clearInterval(beat);
      running = undefined;
      work.remove();
    }
    if (partial !== '' && !skipping) onLine(partial);
    flush();
    await chain;
    const durationMs = Date.now() - started;
    log.info({ exitCode: r.code, signal: r.signal, lines, emitted, duplicates, ignored, durationMs }, 'sensor process ended');
    if (r.stoppedBy === 'abort') throw cancelError instanceof CancelledFailure ? cancelError : new CancelledFailure('cancelled');
    if (emitError) throw ApplicationFailure.create({ message: `could not record the sensor's events: ${(emitError as Error).message}`, type: 'EmitFailed' });
    if (r.spawnError) throw ApplicationFailure.nonRetryable(`could not start ${argv[0]}: ${r.spawnError.message}`, 'ActionNotRunnable');
    return { exitCode: r.code, signal: r.signal, lines, emitted, duplicates, ignored, lastEventAt, durationMs, stderrTail };
  };
}
