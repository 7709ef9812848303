/**
 * The kill matrix (issue 14): processes killed mid-work, against the real services, each case asserting
 * that its effects happened exactly once. (A regional worker killed mid-script: worker-lifecycle.test.ts;
 * mid-deploy-action: sot.test.ts.)
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { SearchAttributes } from '../common/constants.js';
import { API_ENTRY, NODE } from '../lib/paths.js';
import { startService } from '../lib/services.js';
import { as, makeKey, settledCount, temporalClient, uniqueName } from './helpers.js';

/** An API process of this test's own (same database and Temporal as the suite's), and its URL. */
async function ownApi(dir: string, name: string) {
  const api = await startService({
    name,
    command: NODE,
    args: [API_ENTRY, '--port', '0', '--json'],
    env: process.env,
    ready: /"event":"api ready"/, // the --json line on stdout (the log line says it too, without the URL)
    readyTimeoutMs: 180_000,
    output: path.join(dir, `${name}.log`),
  });
  const url = (JSON.parse(api.readyLine.slice(api.readyLine.indexOf('{'))) as { url: string }).url;
  return { api, url };
}

type Answer = { key: string; status: number; id?: string } | { key: string; error: string };

test('the API killed and restarted during a burst of 200 requests with Idempotency-Key: every acknowledged request started exactly one run', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stackwire-api-kill-'));
  const actor = uniqueName('burst');
  const headers = { ...as((await makeKey({ name: actor, role: 'operator' })).key), 'content-type': 'application/json' };
  const keys = Array.from({ length: 200 }, (_, i) => `burst-${crypto.randomBytes(4).toString('hex')}-${i}`);
  const send = async (url: string, key: string): Promise<Answer> => {
    try {
      const res = await fetch(`${url}/api/v1/executions`, {
        method: 'POST',
        headers: { ...headers, 'idempotency-key': key },
        body: JSON.stringify({ action: 'testkit.quick', parameters: { value: key }, region: 'us-east' }),
      });
      const body = (await res.json()) as { id?: string };
      return { key, status: res.status, ...(body.id ? { id: body.id } : {}) };
    } catch (err) {
      return { key, error: String((err as Error).cause ?? err) };
    }
  };
  const first = await ownApi(dir, 'api-1');
  let second: Awaited<ReturnType<typeof ownApi>> | undefined;
  try {
    // 20 clients at a time; the API is SIGKILLed once 60 requests have been answered.
    const answers: Answer[] = [];
    let next = 0;
    let killed = false;
    const client = async () => {
      while (next < keys.length) {
        const key = keys[next++];
        answers.push(await send(first.url, key));
        if (!killed && answers.filter((a) => 'status' in a).length >= 60) {
          killed = true;
          first.api.child.kill('SIGKILL');
        }
      }
    };
    await Promise.all(Array.from({ length: 20 }, client));
    t.true(killed, 'the API was killed mid-burst');
    const acknowledged = answers.filter((a): a is Answer & { status: number; id: string } => 'status' in a && a.status === 202 && a.id !== undefined);
    const unanswered = answers.filter((a) => 'error' in a);
    t.true(acknowledged.length >= 60, `${acknowledged.length} acknowledged before the kill`);
    t.true(unanswered.length > 0, 'some requests got no answer');
    t.is(acknowledged.length + unanswered.length, keys.length, JSON.stringify(answers.filter((a) => 'status' in a && a.status !== 202)));

    // Restarted, every client sends again what it sent (answered or not), with the same key.
    first.api.child.kill('SIGKILL');
    second = await ownApi(dir, 'api-2');
    const again = await Promise.all(keys.map((k) => send(second!.url, k)));
    for (const a of again) t.true('status' in a && (a.status === 200 || a.status === 202), JSON.stringify(a));
    const byKey = new Map(again.map((a) => [a.key, a]));
    for (const a of acknowledged) {
      const b = byKey.get(a.key) as { status: number; id: string };
      t.is(b.status, 200, `${a.key}: acknowledged before the kill, a duplicate after`);
      t.is(b.id, a.id, `${a.key}: the same run`);
    }
    // Exactly one run per key in Temporal: 200 runs by this actor, one per id.
    const ids = new Set(again.map((a) => (a as { id: string }).id));
    t.is(ids.size, keys.length);
    t.is(await settledCount(`Actor = "${actor}"`, [{ key: SearchAttributes.Actor, value: actor }]), keys.length);
    const client2 = await temporalClient();
    const sample = [...ids].slice(0, 5);
    for (const id of sample) t.is((await client2.workflow.count(`WorkflowId = "${id}"`)).count, 1, `${id}: one run`);
  } finally {
    first.api.child.kill('SIGKILL');
    await second?.api.stop(2000);
  }
});
