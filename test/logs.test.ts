/**
 * Logs for ELK: every process of the stack (the API, a regional worker, the orchestrator) writes ECS
 * JSON lines — each key an ECS field (test/ecs-fields.ts) or under `stackwire.` — with the run's ids,
 * the actor as user.name, the request's trace.id, and secrets masked. Read from the log files
 * `npm test` keeps per process (STACKWIRE_TEST_LOG_DIR).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { ECS_FIELDS, ECS_OUTCOMES, ECS_VERSION, ecsKeys } from './ecs-fields.js';
import { eventually, http, runViaApi } from './helpers.js';

const LOG_DIR = process.env.STACKWIRE_TEST_LOG_DIR ?? '';

type Line = Record<string, unknown>;

/** The JSON lines of a process's log file (other lines, e.g. a Node warning on stderr, are returned apart). */
function readLog(name: string): { lines: Line[]; other: string[] } {
  const text = fs.readFileSync(path.join(LOG_DIR, `${name}.log`), 'utf8');
  const lines: Line[] = [];
  const other: string[] = [];
  for (const l of text.split('\n')) {
    if (l.trim() === '') continue;
    try {
      lines.push(JSON.parse(l) as Line);
    } catch {
      other.push(l);
    }
  }
  return { lines, other };
}

/** What is wrong with a line as an ECS document: unknown keys, missing base fields. */
function problems(line: Line, service: string): string[] {
  const out = ecsKeys(line)
    .filter((k) => !ECS_FIELDS.has(k) && !k.startsWith('stackwire.'))
    .map((k) => `${k} is neither an ECS field nor under stackwire.`);
  for (const k of ['@timestamp', 'log.level', 'message', 'service.name', 'process.pid', 'host.hostname']) if (line[k] === undefined) out.push(`no ${k}`);
  if (line['ecs.version'] !== ECS_VERSION) out.push(`ecs.version ${String(line['ecs.version'])}`);
  if (line['service.name'] !== service) out.push(`service.name ${String(line['service.name'])}`);
  if (typeof line['@timestamp'] !== 'string' || Number.isNaN(Date.parse(line['@timestamp']))) out.push('@timestamp is not a date');
  const outcome = line['event.outcome'];
  if (outcome !== undefined && !(typeof outcome === 'string' && ECS_OUTCOMES.has(outcome))) out.push(`event.outcome ${JSON.stringify(outcome)}`);
  if (line['event.duration'] !== undefined && !Number.isInteger(line['event.duration'])) out.push('event.duration is not whole nanoseconds');
  return out;
}

const secret = `log-secret-${crypto.randomBytes(6).toString('hex')}`;
let run: { id: string; traceId: string; actor: string } | undefined;

test.before(async () => {
  if (!LOG_DIR) return;
  const me = await http<{ actor: string }>('GET', '/api/v1/whoami');
  // A run with a secret parameter on us-east: the worker logs its start and end, the API the request.
  const traceId = crypto.randomBytes(16).toString('hex');
  const started = await http<{ id: string }>(
    'POST',
    '/api/v1/executions',
    { action: 'testkit.echo_args', parameters: { message: 'logged', token: secret }, region: 'us-east' },
    { traceparent: `00-${traceId}-${crypto.randomBytes(8).toString('hex')}-01` },
  );
  if (started.status !== 202) throw new Error(`the run was not started: ${started.status} ${JSON.stringify(started.body)}`);
  run = { id: started.body.id, traceId, actor: me.body.actor };
  // And one that fails, for a failure outcome.
  await runViaApi({ action: 'testkit.fail', parameters: { code: 3 }, region: 'us-east' });
});

test('every line of the API, a worker and the orchestrator is an ECS document', async (t) => {
  if (!LOG_DIR) return t.pass('no STACKWIRE_TEST_LOG_DIR: not under npm test');
  const files = [
    { name: 'api', service: 'stackwire-api' },
    { name: 'worker-us-east', service: 'stackwire-worker' },
    { name: 'orchestrator', service: 'stackwire-orchestrator' },
  ];
  // The worker's line for the run is there once the run has ended.
  await eventually(
    () => (readLog('worker-us-east').lines.some((l) => l['stackwire.execution_id'] === run!.id && l.message === 'action finished') ? {} : undefined),
    'the worker logged the end of the run',
    60_000,
  );
  for (const f of files) {
    const { lines, other } = readLog(f.name);
    t.true(lines.length > 0, `${f.name}: no JSON line`);
    if (other.length) t.log(`${f.name}: ${other.length} line(s) not JSON (stderr), e.g. ${other[0].slice(0, 200)}`);
    const bad = lines.flatMap((l) => problems(l, f.service).map((p) => `${f.name}: ${p} in ${JSON.stringify(l).slice(0, 300)}`));
    t.deepEqual(bad.slice(0, 10), [], `${bad.length} bad line(s)`);
  }
});

test('a run is followed across processes: its ids, the actor as user.name, the request’s trace.id; its secret masked', async (t) => {
  if (!LOG_DIR) return t.pass('no STACKWIRE_TEST_LOG_DIR: not under npm test');
  const r = run!;
  const found = await eventually(
    () => {
      const api = readLog('api').lines;
      const worker = readLog('worker-us-east').lines;
      const requested = api.find((l) => l.message === 'execution requested' && l['stackwire.execution_id'] === r.id);
      const access = api.find((l) => l.message === 'request' && l['trace.id'] === r.traceId && l['url.path'] === '/api/v1/executions');
      const startedLine = worker.find((l) => l.message === 'action started' && l['stackwire.execution_id'] === r.id);
      const finished = worker.find((l) => l.message === 'action finished' && l['stackwire.execution_id'] === r.id);
      return requested && access && startedLine && finished ? { requested, access, startedLine, finished } : undefined;
    },
    'the API and the worker logged the run',
    60_000,
  );
  // The API: the request's trace.id (from the caller's traceparent) and its caller on the handler's line.
  t.is(found.requested['trace.id'], r.traceId);
  t.is(found.requested['user.name'], r.actor);
  t.is(found.access['http.request.method'], 'POST');
  t.is(found.access['http.response.status_code'], 202);
  t.is(found.access['user.name'], r.actor);
  t.true(Number.isInteger(found.access['event.duration']) && (found.access['event.duration'] as number) > 0);
  // The worker: the workflow and run it belongs to, its region, who asked for it, how it ended.
  t.is(found.startedLine['stackwire.workflow_id'], r.id);
  t.regex(String(found.startedLine['stackwire.run_id']), /^[\da-f-]{36}$/);
  t.is(found.startedLine['stackwire.region'], 'us-east');
  t.is(found.startedLine['stackwire.activity_type'], 'runAction');
  t.is(found.startedLine['user.name'], r.actor);
  t.is(found.finished['event.outcome'], 'success');
  t.true(Number.isInteger(found.finished['event.duration']));
  // The secret parameter: masked in the argv logged, and nowhere in any log in clear.
  t.true(JSON.stringify(found.startedLine['stackwire.argv']).includes('********'));
  for (const f of ['api', 'worker-us-east', 'worker-eu-west', 'orchestrator'])
    t.false(fs.readFileSync(path.join(LOG_DIR, `${f}.log`), 'utf8').includes(secret), `${f}.log holds the secret`);
  // A failed run ends with a failure outcome.
  const failed = readLog('worker-us-east').lines.find(
    (l) => l.message === 'action finished' && l['stackwire.action'] === 'testkit.fail' && l['event.outcome'] === 'failure',
  );
  t.truthy(failed, 'no failure outcome logged for testkit.fail');
});

test('the Temporal SDK’s own lines go through the same logger', (t) => {
  if (!LOG_DIR) return t.pass('no STACKWIRE_TEST_LOG_DIR: not under npm test');
  const sdk = readLog('orchestrator').lines.filter((l) => typeof l['log.logger'] === 'string' && l['log.logger'].startsWith('temporal.'));
  t.true(sdk.length > 0, 'no line from the Temporal SDK in the orchestrator log');
  t.true(
    sdk.every((l) => l['service.name'] === 'stackwire-orchestrator'),
    'an SDK line without our service.name',
  );
});
