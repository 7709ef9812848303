/**
 * No secret in clear in Temporal: every payload of a run, an ingest (and a deploy, in sot.test.ts,
 * which owns the source of truth) is ciphertext in the history Temporal stores; the codec endpoint
 * the Web UI calls decodes it; keys rotate; recorded and encrypted histories replay; mTLS settings
 * are checked before anything starts.
 */
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import type { temporal } from '@temporalio/proto';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { regionTaskQueue } from '../common/constants.js';
import { actionExecution } from '../workflows/index.js';
import type { ActionExecutionInput, ActionSpec } from '../common/types.js';
import { ConfigError, loadConfig } from '../lib/config.js';
import { ENCRYPTED_ENCODING, KEY_ID_METADATA, keyId } from '../lib/payload-codec.js';
import { newSecretKey, seal } from '../lib/secrets.js';
import { startService } from '../lib/services.js';
import { API_ENTRY, NODE, WORKER_ENTRY } from '../lib/paths.js';
import { WORKFLOW_BUNDLE } from '../lib/paths.js';
import { createTemporalClient, stackwireDataConverter } from '../lib/temporal-client.js';
import { API, cli, config, decodedHistoryText, historyText, http, rawTemporalClient, regionWorker, runViaApi, temporalClient, uniqueName } from './helpers.js';

type History = temporal.api.history.v1.IHistory;

Runtime.install({ logger: new DefaultLogger('WARN') }); // the replay workers' state changes are not news here

const UI_ORIGIN = 'http://127.0.0.1:8233';
const text = (b: Uint8Array | null | undefined) => Buffer.from(b ?? new Uint8Array()).toString('utf8');
const b64 = (s: string | Uint8Array) => Buffer.from(s).toString('base64');

/** Every payload in a history with where it is; search attributes are kept apart (Temporal must index them, so no codec touches them). */
function payloadsOf(history: unknown): { where: string; payload: temporal.api.common.v1.IPayload }[] {
  const out: { where: string; payload: temporal.api.common.v1.IPayload }[] = [];
  const walk = (v: unknown, where: string) => {
    if (!v || typeof v !== 'object' || v instanceof Uint8Array) return;
    if (Array.isArray(v)) return v.forEach((x, i) => walk(x, `${where}[${i}]`));
    const o = v as Record<string, unknown>;
    const meta = o.metadata as Record<string, unknown> | undefined;
    if (meta && typeof meta === 'object' && meta.encoding instanceof Uint8Array) {
      out.push({ where, payload: o });
      return;
    }
    for (const [k, x] of Object.entries(o)) walk(x, `${where}.${k}`);
  };
  walk(history, 'history');
  return out;
}

/** Failures anywhere in a history (they nest through `cause`), with who made them: an SDK (`TypeScriptSDK`) or the server (timeouts). */
function failuresOf(history: unknown): { message: string; source: string }[] {
  const out: { message: string; source: string }[] = [];
  const walk = (v: unknown, key: string) => {
    if (!v || typeof v !== 'object' || v instanceof Uint8Array) return;
    if (Array.isArray(v)) return v.forEach((x) => walk(x, key));
    const o = v as Record<string, unknown>;
    if ((key === 'failure' || key === 'cause' || key === 'lastFailure') && typeof o.message === 'string')
      out.push({ message: o.message, source: typeof o.source === 'string' ? o.source : '' });
    for (const [k, x] of Object.entries(o)) walk(x, k);
  };
  walk(history, '');
  return out;
}

/** What the raw history must look like: each payload outside search attributes encrypted with the current key, failures encoded. */
function assertCiphertextOnly(t: import('ava').ExecutionContext, history: History, label: string): void {
  const all = payloadsOf(history);
  // A patch marker's data is the SDK's own (the patch id and whether it is deprecated), written by
  // Temporal's core without the codec: checked to hold nothing else.
  for (const { where, payload } of all.filter((p) => /markerRecordedEventAttributes\.details\.patch-data/.test(p.where)))
    t.regex(text(payload.data), /^\{"id":"[\w-]+","deprecated":(true|false)\}$/, `${label}: ${where} is a patch id only`);
  const encrypted = all.filter((p) => !/searchAttributes|\.header\.|markerRecordedEventAttributes\.details\.patch-data/.test(p.where));
  t.true(encrypted.length >= 3, `${label}: ${encrypted.length} payloads found`);
  for (const { where, payload } of encrypted) {
    t.is(text(payload.metadata?.encoding), ENCRYPTED_ENCODING, `${label}: ${where} is encrypted`);
    t.is(text(payload.metadata?.[KEY_ID_METADATA]), keyId(config.secretKey!), `${label}: ${where} names the current key id`);
    t.deepEqual(Object.keys(payload.metadata ?? {}).sort(), ['encoding', KEY_ID_METADATA], `${label}: ${where} has nothing else in clear`);
  }
  // Failures our processes raise carry their message in the encrypted payload; the server's own (a heartbeat timeout) hold its generic text.
  for (const f of failuresOf(history).filter((x) => x.source === 'TypeScriptSDK'))
    t.is(f.message, 'Encoded failure', `${label}: failure messages are in the encrypted payload`);
}

// ------------------------------------------------------------------------------------------------
// Histories as Temporal stores them

test('a run: input, parameters, output, memo and summaries are ciphertext in history; decrypted, the values are there and the secret stays sealed', async (t) => {
  const marker = `plainvalue-${crypto.randomBytes(6).toString('hex')}`;
  const secret = `tok-${crypto.randomBytes(8).toString('hex')}`;
  const { id, execution } = await runViaApi({ action: 'testkit.echo_args', parameters: { message: marker, token: secret } });
  t.is(execution.status, 'succeeded');
  t.true(execution.stdout.includes(marker), 'the script got the plain value');

  // A client without the codec sees what the Temporal server (or anyone reading its database) sees.
  const raw = await (await rawTemporalClient()).workflow.getHandle(id).fetchHistory();
  const rawText = historyText(raw);
  for (const clear of [secret, marker, 'executionId', 'echo_args.py', 'testkit.echo_args on'])
    t.false(rawText.includes(clear), `${clear} is not in clear in the stored history`);
  assertCiphertextOnly(t, raw, 'run');
  // Search attributes stay readable (Temporal indexes them): they hold names, never values.
  const attrs = payloadsOf(raw).filter((p) => p.where.includes('searchAttributes'));
  t.true(attrs.some((p) => text(p.payload.data).includes('testkit.echo_args')));

  // The same history decrypted (the API's client, the codec endpoint): readable, but the secret was sealed before it entered.
  const decoded = await decodedHistoryText(raw);
  t.true(decoded.includes(marker) && decoded.includes('executionId'));
  t.true(decoded.includes('$sealed'));
  t.false(decoded.includes(secret));
  // And the API's client reads the memo through the codec.
  const desc = await (await temporalClient()).workflow.getHandle(id).describe();
  t.regex(String(desc.memo?.command), /--token '?\*{8}'?/);
});

test('a failed run: failure messages and stack traces are encrypted in history and readable through the codec', async (t) => {
  // Exit code 2 is a usage error: no retry, one failed attempt.
  const { id, execution } = await runViaApi({ action: 'testkit.fail', parameters: { code: 2 } });
  t.is(execution.status, 'failed');
  t.regex(execution.error ?? '', /^exit code 2/);
  // The record is written by the activity, before the failure reaches the history: wait for the workflow's end.
  const ended = (await temporalClient()).workflow.getHandle(id).result();
  await ended.catch(() => undefined);
  const raw = await (await rawTemporalClient()).workflow.getHandle(id).fetchHistory();
  t.true(
    failuresOf(raw).some((f) => f.source === 'TypeScriptSDK'),
    'the history holds the activity failure',
  );
  assertCiphertextOnly(t, raw, 'failed run');
  for (const clear of ['exit code 2', 'database migration step failed', 'doing the work'])
    t.false(historyText(raw).includes(clear), `${clear} is not in clear`);
  t.true((await decodedHistoryText(raw)).includes('exit code 2'), 'the encoded failure attributes decrypt to the message');
});

test('an ingest: its input and summary are ciphertext in history, and the report is not there at all (it is in Postgres, by reference)', async (t) => {
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'stackwire-codec-ingest-')), 'codeckit');
  fs.mkdirSync(dir);
  const option = `zebra-${crypto.randomBytes(4).toString('hex')}`;
  fs.writeFileSync(
    path.join(dir, 'rotate_logs.py'),
    `#!/usr/bin/env python3\n"""Rotate the logs."""\nimport argparse\np = argparse.ArgumentParser()\np.add_argument("--${option}", help="a recognisable option")\np.parse_args()\n`,
  );
  const pack = uniqueName('codeckit').replace(/-/g, '_');
  const r = await cli(['ingest', dir, '--pack', pack, '--no-write', '--json']);
  t.is(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as { workflowId: string; actions: { name: string }[] };
  t.deepEqual(
    report.actions.map((a) => a.name),
    [`${pack}.rotate_logs`],
  );
  const raw = await (await rawTemporalClient()).workflow.getHandle(report.workflowId).fetchHistory();
  for (const clear of [option, 'rotate_logs', 'Rotate the logs']) t.false(historyText(raw).includes(clear), `${clear} is not in clear`);
  assertCiphertextOnly(t, raw, 'ingest');
  const decoded = await decodedHistoryText(raw);
  t.true(decoded.includes(pack), 'decrypted, the input and the summary name the pack');
  t.false(decoded.includes(option), 'the report (the inferred options, the YAML) is not in history: it is read from GET /api/v1/ingests/:id/items');
});

// ------------------------------------------------------------------------------------------------
// The codec endpoint, called as the Temporal Web UI calls it

/** The request the Web UI's codec client sends: POST <endpoint>/<op>?preserveStorageRefs=true, JSON, X-Namespace, from the UI's origin. */
function uiRequest(op: 'decode' | 'encode', payloads: unknown[], headers: Record<string, string> = {}) {
  return http<{ payloads: { metadata: Record<string, string>; data: string }[]; error?: { code: string; message: string } }>(
    'POST',
    `/api/v1/codec/${op}?preserveStorageRefs=true`,
    { payloads },
    { 'content-type': 'application/json', 'x-namespace': config.temporal.namespace, origin: UI_ORIGIN, ...headers },
  );
}

test('codec endpoint: encode → decode round trip in the protocol JSON shape, with the CORS answer the browser needs', async (t) => {
  const plain = { metadata: { encoding: b64('json/plain') }, data: b64('{"hello":"codec"}') };
  const enc = await uiRequest('encode', [plain]);
  t.is(enc.status, 200, JSON.stringify(enc.body));
  t.is(enc.body.payloads.length, 1);
  const [e] = enc.body.payloads;
  t.is(Buffer.from(e.metadata.encoding, 'base64').toString(), ENCRYPTED_ENCODING);
  t.is(Buffer.from(e.metadata[KEY_ID_METADATA], 'base64').toString(), keyId(config.secretKey!));
  t.false(Buffer.from(e.data, 'base64').toString('latin1').includes('codec'));
  const dec = await uiRequest('decode', [e, plain]);
  t.is(dec.status, 200, JSON.stringify(dec.body));
  t.deepEqual(dec.body.payloads, [plain, plain], 'decrypted; an unencrypted payload passes through untouched');

  // The answer is readable by the UI's page: CORS for its origin, credentials allowed.
  const res = await fetch(`${API}/api/v1/codec/decode`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-namespace': config.temporal.namespace, origin: UI_ORIGIN, ...authHeader() },
    body: JSON.stringify({ payloads: [e] }),
  });
  t.is(res.status, 200);
  t.is(res.headers.get('access-control-allow-origin'), UI_ORIGIN);
  t.is(res.headers.get('access-control-allow-credentials'), 'true');
  t.regex(res.headers.get('vary') ?? '', /Origin/i);
});

/** What http() of helpers sends for authentication, for the two raw fetches that check headers. */
function authHeader(): Record<string, string> {
  return process.env.STACKWIRE_API_KEY ? { authorization: `Bearer ${process.env.STACKWIRE_API_KEY}` } : {};
}

test('codec endpoint: a CORS preflight is answered without credentials, for allowed origins only', async (t) => {
  const preflight = (origin: string) =>
    fetch(`${API}/api/v1/codec/decode?preserveStorageRefs=true`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type,x-namespace' },
    });
  const ok = await preflight(UI_ORIGIN);
  t.is(ok.status, 204);
  t.is(ok.headers.get('access-control-allow-origin'), UI_ORIGIN);
  t.regex(ok.headers.get('access-control-allow-methods') ?? '', /POST/);
  for (const h of ['Authorization', 'Content-Type', 'X-Namespace']) t.true((ok.headers.get('access-control-allow-headers') ?? '').includes(h), h);
  t.is(ok.headers.get('access-control-allow-credentials'), 'true');
  const localhost = await preflight('http://localhost:8233');
  t.is(localhost.status, 204);
  const evil = await preflight('http://evil.example');
  t.is(evil.status, 403);
  t.is(evil.headers.get('access-control-allow-origin'), null);
  t.regex(((await evil.json()) as { error: { message: string } }).error.message, /STACKWIRE_CODEC_CORS_ORIGINS/);
});

test('codec endpoint: a payload from a real history decodes; an unknown key, a wrong namespace and a bad body are clear 400s', async (t) => {
  const { id } = await runViaApi({ action: 'testkit.echo_args', parameters: { message: 'from-history' } });
  const raw = await (await rawTemporalClient()).workflow.getHandle(id).fetchHistory();
  const input = raw.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
  t.truthy(input);
  const asJson = {
    metadata: Object.fromEntries(Object.entries(input?.metadata ?? {}).map(([k, v]) => [k, b64(v)])),
    data: b64(input?.data ?? new Uint8Array()),
  };
  const dec = await uiRequest('decode', [asJson]);
  t.is(dec.status, 200, JSON.stringify(dec.body));
  t.is(Buffer.from(dec.body.payloads[0].metadata.encoding, 'base64').toString(), 'json/plain');
  const value = JSON.parse(Buffer.from(dec.body.payloads[0].data, 'base64').toString()) as { executionId: string; parameters: { message: string } };
  t.is(value.executionId, id);
  t.is(value.parameters.message, 'from-history');

  const unknown = await uiRequest('decode', [
    { metadata: { encoding: b64(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: b64('deadbeefdeadbeef') }, data: asJson.data },
  ]);
  t.is(unknown.status, 400);
  t.is(unknown.body.error?.code, 'unknown_key');
  t.regex(unknown.body.error?.message ?? '', /key id deadbeefdeadbeef.*STACKWIRE_SECRET_KEY.*STACKWIRE_OLD_SECRET_KEYS/);
  const tampered = Buffer.from(asJson.data, 'base64');
  tampered[20] ^= 1;
  const altered = await uiRequest('decode', [{ ...asJson, data: b64(tampered) }]);
  t.is(altered.status, 400);
  t.is(altered.body.error?.code, 'decrypt_failed');
  const otherNs = await uiRequest('decode', [asJson], { 'x-namespace': 'someone-else' });
  t.is(otherNs.status, 400);
  t.regex(otherNs.body.error?.message ?? '', /serves the Temporal namespace "default"/);
  const bad = await uiRequest('decode', [{ metadata: { encoding: 'not base64!' }, data: '' }]);
  t.is(bad.status, 400);
  t.regex(bad.body.error?.message ?? '', /payloads\[0\]\.metadata\.encoding is not a base64 string/);
  const none = await http<{ error: { message: string } }>('POST', '/api/v1/codec/decode', { nothing: [] }, { 'x-namespace': config.temporal.namespace });
  t.is(none.status, 400);
  t.regex(none.body.error.message, /no "payloads" array/);
});

// ------------------------------------------------------------------------------------------------
// Key rotation

test('key rotation: a run started under the old key is finished by a worker on the new key (old key for decryption only), sealed secret included', async (t) => {
  const oldKey = config.secretKey!.toString('base64');
  const newKey = newSecretKey();
  const rotated = loadConfig({ ...process.env, STACKWIRE_SECRET_KEY: newKey, STACKWIRE_OLD_SECRET_KEYS: `${oldKey}` });
  const region = `rotate-${crypto.randomBytes(3).toString('hex')}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stackwire-rotate-'));
  const env = { ...process.env, STACKWIRE_REGIONS: region, STACKWIRE_SECRET_KEY: newKey, STACKWIRE_OLD_SECRET_KEYS: oldKey };
  const worker = await regionWorker(region, dir, 'worker', { STACKWIRE_SECRET_KEY: newKey, STACKWIRE_OLD_SECRET_KEYS: oldKey });
  const api = await startService({
    name: 'api',
    command: NODE,
    args: [API_ENTRY, '--port', '0', '--json'],
    env,
    ready: /"event":"api ready"/,
    readyTimeoutMs: 180_000,
    output: path.join(dir, 'api.log'),
  });
  const newOnly = await startService({
    name: 'api-new-only',
    command: NODE,
    args: [API_ENTRY, '--port', '0', '--json'],
    env: { ...env, STACKWIRE_OLD_SECRET_KEYS: '' },
    ready: /"event":"api ready"/,
    readyTimeoutMs: 180_000,
    output: path.join(dir, 'api-new-only.log'),
  });
  const rotatedClient = await createTemporalClient(rotated);
  try {
    // Started and sealed with the old key, as an API that has not been restarted yet would.
    const action = (await http<ActionSpec>('GET', '/api/v1/actions/testkit.echo_args')).body;
    const secret = `rot-${crypto.randomBytes(6).toString('hex')}`;
    const id = `rotate-test-${region}`;
    const input: ActionExecutionInput = {
      executionId: id,
      action,
      parameters: { message: 'rotated', token: seal(secret, config.secretKey!) },
      region,
      actor: 'test',
      trigger: 'test',
    };
    await (await temporalClient()).workflow.start(actionExecution, { taskQueue: regionTaskQueue(region), workflowId: id, args: [input] });
    const result = (await rotatedClient.workflow.getHandle(id).result()) as { status: string };
    t.is(result.status, 'succeeded');
    const e = (await http<{ status: string; stdout: string }>('GET', `/api/v1/executions/${id}`)).body;
    t.is(e.status, 'succeeded');
    t.true(e.stdout.includes('"--token", "********"'), 'the script got the secret, opened with the old key; the output is masked');
    // The history now holds both key ids: the old for what the old client wrote, the new for what the rotated worker wrote.
    const raw = await (await rawTemporalClient()).workflow.getHandle(id).fetchHistory();
    const ids = new Set(payloadsOf(raw).map((p) => text(p.payload.metadata?.[KEY_ID_METADATA])));
    t.true(ids.has(keyId(config.secretKey!)) && ids.has(keyId(Buffer.from(newKey, 'base64'))), [...ids].join(', '));
    // A codec endpoint with both keys decodes all of it; one with the new key alone names the key it lacks.
    const someOld = payloadsOf(raw).find((p) => text(p.payload.metadata?.[KEY_ID_METADATA]) === keyId(config.secretKey!))!.payload;
    const body = {
      payloads: [{ metadata: Object.fromEntries(Object.entries(someOld.metadata ?? {}).map(([k, v]) => [k, b64(v)])), data: b64(someOld.data!) }],
    };
    const url = (s: typeof api) => (JSON.parse(s.readyLine.slice(s.readyLine.indexOf('{'))) as { url: string }).url;
    const post = (s: typeof api) =>
      fetch(`${url(s)}/api/v1/codec/decode`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-namespace': config.temporal.namespace, ...authHeader() },
        body: JSON.stringify(body),
      });
    t.is((await post(api)).status, 200);
    const refused = await post(newOnly);
    t.is(refused.status, 400);
    t.regex(
      ((await refused.json()) as { error: { message: string } }).error.message,
      new RegExp(`key id ${keyId(config.secretKey!)}.*STACKWIRE_OLD_SECRET_KEYS`),
    );
  } finally {
    await rotatedClient.connection.close();
    await Promise.all([worker.stop(2000), api.stop(2000), newOnly.stop(2000)]);
  }
});

// ------------------------------------------------------------------------------------------------
// Replay

test('replay: an encrypted history replays with the workers data converter, and cannot be read without the key', async (t) => {
  const { id } = await runViaApi({ action: 'testkit.echo_args', parameters: { message: 'replay-me' } });
  const history = await (await rawTemporalClient()).workflow.getHandle(id).fetchHistory();
  await t.notThrowsAsync(
    Worker.runReplayHistory({ workflowBundle: { codePath: WORKFLOW_BUNDLE }, dataConverter: stackwireDataConverter(config) }, history, id),
  );
  const otherKey = stackwireDataConverter({ secretKey: crypto.randomBytes(32), oldSecretKeys: [] });
  await t.throwsAsync(Worker.runReplayHistory({ workflowBundle: { codePath: WORKFLOW_BUNDLE }, dataConverter: otherKey }, history, id));
});

// ------------------------------------------------------------------------------------------------
// Configuration: the key, and mTLS to Temporal

function run(entry: string, args: string[], env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [entry, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

/** A self-signed certificate and its key, and a second key that is not its key (openssl, as an operator would make them). */
function certificates(): { dir: string; cert: string; key: string; otherKey: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stackwire-tls-'));
  const cert = path.join(dir, 'client.pem');
  const key = path.join(dir, 'client.key');
  const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  fs.writeFileSync(key, privateKey.export({ type: 'pkcs8', format: 'pem' }));
  const r = spawnSync('openssl', ['req', '-x509', '-new', '-key', key, '-subj', '/CN=stackwire-test', '-days', '1', '-out', cert], { stdio: 'ignore' });
  if (r.status !== 0) throw new Error('openssl could not make a test certificate');
  const otherKey = path.join(dir, 'other.key');
  fs.writeFileSync(otherKey, crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
  return { dir, cert, key, otherKey };
}

test('mTLS settings are checked before a worker or the API starts: missing files, a lone cert, non-PEM, a key of another certificate', async (t) => {
  const missing = await run(WORKER_ENTRY, ['--region', 'us-east'], {
    TEMPORAL_TLS_CERT: '/nonexistent/client.pem',
    TEMPORAL_TLS_KEY: '/nonexistent/client.key',
  });
  t.is(missing.code, 1);
  t.regex(missing.stderr, /configuration error: TEMPORAL_TLS_CERT="\/nonexistent\/client\.pem": the file does not exist/);
  const { cert, key, otherKey, dir } = certificates();
  const lone = await run(API_ENTRY, ['--port', '0'], { TEMPORAL_TLS_CERT: cert });
  t.is(lone.code, 1);
  t.regex(lone.stderr, /TEMPORAL_TLS_CERT is set but TEMPORAL_TLS_KEY is not/);
  const notPem = path.join(dir, 'ca.der');
  fs.writeFileSync(notPem, crypto.randomBytes(64));
  const der = await run(WORKER_ENTRY, ['--orchestrator'], { TEMPORAL_TLS_CA: notPem });
  t.is(der.code, 1);
  t.regex(der.stderr, /TEMPORAL_TLS_CA=".*ca\.der" is not a PEM certificate/);
  const env = { ...process.env, TEMPORAL_ADDRESS: '127.0.0.1:7233' };
  t.throws(() => loadConfig({ ...env, TEMPORAL_TLS_CERT: cert, TEMPORAL_TLS_KEY: otherKey }), {
    instanceOf: ConfigError,
    message: /TEMPORAL_TLS_KEY=".*other\.key" is not the private key of the certificate/,
  });
  t.throws(() => loadConfig({ ...env, TEMPORAL_ADDRESS: undefined, TEMPORAL_TLS_CA: cert }), { message: /TEMPORAL_TLS_\* is set but TEMPORAL_ADDRESS is not/ });
  t.throws(() => loadConfig({ ...env, TEMPORAL_TLS_SERVER_NAME: 'temporal.internal' }), { message: /TEMPORAL_TLS_SERVER_NAME is set but no TLS/ });
  // A good pair (and a CA, and a server name) is what every Connection and NativeConnection gets.
  const tls = loadConfig({ ...env, TEMPORAL_TLS_CERT: cert, TEMPORAL_TLS_KEY: key, TEMPORAL_TLS_CA: cert, TEMPORAL_TLS_SERVER_NAME: 'temporal.internal' })
    .temporal.tls;
  t.deepEqual(tls?.clientCertPair, { crt: fs.readFileSync(cert), key: fs.readFileSync(key) });
  t.deepEqual(tls?.serverRootCACertificate, fs.readFileSync(cert));
  t.is(tls?.serverNameOverride, 'temporal.internal');
});

test('the secret key is required by every process that talks to Temporal, and old keys are checked', async (t) => {
  const noKey = await run(WORKER_ENTRY, ['--region', 'us-east'], { STACKWIRE_SECRET_KEY: '', STACKWIRE_OLD_SECRET_KEYS: '' });
  t.is(noKey.code, 1);
  t.regex(noKey.stderr, /configuration error: STACKWIRE_SECRET_KEY is not set: Stackwire encrypts every Temporal payload with it/);
  const api = await run(API_ENTRY, ['--port', '0'], { STACKWIRE_SECRET_KEY: '', STACKWIRE_OLD_SECRET_KEYS: '' });
  t.is(api.code, 1);
  t.regex(api.stderr, /STACKWIRE_SECRET_KEY is not set/);
  const badOld = await run(WORKER_ENTRY, ['--orchestrator'], { STACKWIRE_OLD_SECRET_KEYS: `${newSecretKey()},c2hvcnQ=` });
  t.is(badOld.code, 1);
  t.regex(badOld.stderr, /STACKWIRE_OLD_SECRET_KEYS: entry 2 is not 32 bytes in base64 \(got 5 bytes\)/);
  t.throws(() => loadConfig({ ...process.env, STACKWIRE_SECRET_KEY: '', STACKWIRE_OLD_SECRET_KEYS: newSecretKey() }), {
    message: /STACKWIRE_OLD_SECRET_KEYS is set but STACKWIRE_SECRET_KEY is not/,
  });
  t.throws(() => loadConfig({ ...process.env, STACKWIRE_CODEC_CORS_ORIGINS: 'http://ui.example.com/path' }), {
    message: /STACKWIRE_CODEC_CORS_ORIGINS: .* is not an origin/,
  });
});
