/**
 * Generic webhooks, rules and traces through the CLI and the API against the real stack: a declared
 * webhook's signed (or token-carrying) delivery becomes a webhook.<name> trigger; a rule whose criteria
 * hold starts its action or pipeline with parameters mapped from the payload, and one whose criteria
 * fail starts nothing; unsigned, wrong and unknown deliveries are refused with nothing started; a
 * redelivery is a duplicate; rules are validated with line and column, versioned and deleted; `trace`
 * follows an event to its runs and a run back to its event.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import type { RuleApplyResponse, RuleGetResponse, TraceResponse, TriggerRecord, WebhookCreateResponse, WebhookDeliveryResponse } from '../common/api-types.js';
import { SearchAttributes } from '../common/constants.js';
import { PROJECT_ROOT } from '../lib/config.js';
import { API, as, cli, http, makeKey, pipelineRunEnded, temporalClient, uniqueName, waitForEnd } from './helpers.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stackwire-rules-'));
const write = (name: string, text: string) => {
  const f = path.join(dir, name);
  fs.writeFileSync(f, text);
  return f;
};

/** A delivery to a generic webhook: signed with `secret` (hmac), or carrying `token`. */
async function deliver(
  name: string,
  body: unknown,
  o: { secret?: string; token?: string; bearer?: string; delivery?: string; raw?: string } = {},
): Promise<{ status: number; body: WebhookDeliveryResponse & { error?: { code: string; message: string } } }> {
  const raw = o.raw ?? JSON.stringify(body);
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (o.secret) headers['x-hub-signature-256'] = `sha256=${crypto.createHmac('sha256', o.secret).update(raw).digest('hex')}`;
  if (o.token) headers['x-stackwire-token'] = o.token;
  if (o.bearer) headers.authorization = `Bearer ${o.bearer}`;
  if (o.delivery) headers['x-delivery-id'] = o.delivery;
  const res = await fetch(`${API}/api/v1/webhooks/${name}`, { method: 'POST', headers, body: raw });
  return { status: res.status, body: (await res.json()) as never };
}

test.serial(
  'a signed delivery fires a rule with mapped parameters; failed criteria, bad proofs and redeliveries start nothing; trace shows the chain',
  async (t) => {
    const hook = uniqueName('alerts');
    const created = await cli(['webhook', 'create', hook, '--description', 'test alerts', '--json']);
    t.is(created.code, 0, created.stderr);
    const w = JSON.parse(created.stdout) as WebhookCreateResponse;
    t.like(w, { name: hook, auth: 'hmac', header: 'X-Hub-Signature-256', triggerType: `webhook.${hook}` });
    t.is(w.secret!.length, 43, 'a generated 32-byte secret, shown once');
    t.false(JSON.stringify((await http('GET', '/api/v1/webhooks')).body).includes(w.secret!), 'never listed');

    const rule = uniqueName('restart-web');
    const file = write(
      `${rule}.yaml`,
      `name: ${rule}
description: answer a critical alert on a web host
trigger:
  type: webhook.${hook}
criteria:
  trigger.body.severity: {type: equals, pattern: critical}
  trigger.body.host: {type: matchwildcard, pattern: "web-*"}
action:
  ref: testkit.quick
  parameters:
    value: "\${{ trigger.body.host }} is \${{ trigger.body.severity }}"
`,
    );
    const applied = await cli(['rule', 'apply', file, '--json']);
    t.is(applied.code, 0, applied.stderr);
    t.deepEqual((JSON.parse(applied.stdout) as RuleApplyResponse).rules, [{ name: rule, outcome: 'created', version: 1 }]);

    // Criteria hold: the action runs with the mapped parameter, as the rule, for this trigger.
    const delivery = uniqueName('d');
    const fired = await deliver(hook, { severity: 'critical', host: 'web-7' }, { secret: w.secret!, delivery });
    t.is(fired.status, 202, JSON.stringify(fired.body));
    t.is(fired.body.trigger, `webhook.${hook}.${delivery}`);
    t.deepEqual(fired.body.matched, [{ rule, version: 1 }]);
    t.is(fired.body.runs.length, 1);
    const runId = fired.body.runs[0].workflowId;
    const run = await waitForEnd(runId);
    t.is(run.status, 'succeeded', run.stderr);
    t.is((JSON.parse(run.stdout.trim()) as { value: string }).value, 'web-7 is critical');
    t.is(run.actor, `rule:${rule}`);
    const client = await temporalClient();
    const d = await client.workflow.getHandle(runId).describe();
    t.is(d.typedSearchAttributes.get(SearchAttributes.TriggerId), fired.body.trigger);
    t.is(d.typedSearchAttributes.get(SearchAttributes.Trigger), `webhook.${hook}`);

    // The same delivery again: a duplicate, nothing new.
    const again = await deliver(hook, { severity: 'critical', host: 'web-7' }, { secret: w.secret!, delivery });
    t.is(again.status, 200);
    t.true(again.body.duplicate);
    t.deepEqual(
      again.body.runs.map((r) => r.workflowId),
      [runId],
    );

    // Criteria fail: recorded, nothing started.
    const quiet = await deliver(hook, { severity: 'warning', host: 'web-7' }, { secret: w.secret! });
    t.is(quiet.status, 202);
    t.deepEqual(quiet.body.matched, []);
    t.deepEqual(quiet.body.runs, []);
    const other = await deliver(hook, { severity: 'critical', host: 'db-1' }, { secret: w.secret! });
    t.deepEqual(other.body.runs, []);

    // Unsigned, signed with another secret, unknown webhook, not JSON: refused before anything.
    const before = (await http<{ triggers: TriggerRecord[] }>('GET', `/api/v1/triggers?type=webhook.${hook}`)).body.triggers.length;
    const unsigned = await deliver(hook, { severity: 'critical', host: 'web-1' });
    t.is(unsigned.status, 401);
    t.is(unsigned.body.error!.code, 'bad_signature');
    t.is((await deliver(hook, { severity: 'critical', host: 'web-1' }, { secret: 'x'.repeat(43) })).status, 401);
    t.is((await deliver(`${hook}-nope`, {}, { secret: w.secret! })).status, 404);
    const notJson = await deliver(hook, undefined, { secret: w.secret!, raw: 'severity=critical' });
    t.is(notJson.status, 400);
    t.is(notJson.body.error!.code, 'invalid_json');
    const list = (await http<{ triggers: TriggerRecord[] }>('GET', `/api/v1/triggers?type=webhook.${hook}`)).body.triggers;
    t.is(list.length, before, 'refused deliveries are not trigger instances');
    t.like(
      list.find((x) => x.id === fired.body.trigger),
      { source: `webhook ${hook}`, deliveryId: delivery, status: 'dispatched' },
    );
    t.regex(list.find((x) => x.id === fired.body.trigger)!.payloadDigest, /^sha256:[0-9a-f]{64}$/);
    const audit = await http<{ entries: { result: string; target: string }[] }>('GET', '/api/v1/audit?action=webhooks.deliver&limit=100');
    t.true(audit.body.entries.filter((e) => e.result === 'unauthenticated' && e.target === `webhook.${hook}`).length >= 2);

    // Trace, from the trigger and from the run.
    const fromTrigger = await cli(['trace', fired.body.trigger, '--json']);
    t.is(fromTrigger.code, 0, fromTrigger.stderr);
    const tr = JSON.parse(fromTrigger.stdout) as TraceResponse;
    t.is(tr.found, 'trigger');
    t.deepEqual(tr.trigger!.matched, [{ rule, version: 1 }]);
    t.like(tr.runs[0], { workflowId: runId, kind: 'action', rule, status: 'COMPLETED', type: 'actionExecution' });
    const fromRun = await cli(['trace', runId]);
    t.is(fromRun.code, 0, fromRun.stderr);
    t.regex(fromRun.stdout, new RegExp(`trigger ${fired.body.trigger}: webhook\\.${hook} from webhook ${hook}`));
    t.regex(fromRun.stdout, new RegExp(`action \\(rule ${rule}\\)\\s+${runId}\\s+COMPLETED`));
    t.is((await cli(['trace', 'no-such-thing'])).code, 2, 'unknown id');
  },
);

test.serial('a token webhook fires a rule that runs a pack pipeline with mapped inputs', async (t) => {
  const hook = uniqueName('deploys');
  const token = crypto.randomBytes(24).toString('hex');
  const created = await cli(['webhook', 'create', hook, '--auth', 'token', '--secret-env', 'HOOK_TOKEN', '--json'], { HOOK_TOKEN: token });
  t.is(created.code, 0, created.stderr);
  t.is((JSON.parse(created.stdout) as WebhookCreateResponse).secret, undefined, 'a given token is not echoed');
  const rule = uniqueName('smoke-on-deploy');
  const file = write(
    `${rule}.yaml`,
    `name: ${rule}
trigger: {type: webhook.${hook}}
criteria:
  trigger.body.env: {type: inside, pattern: [staging, prod]}
  trigger.body.build: {type: greaterthan, pattern: 100}
pipeline:
  pack: testkit
  name: smoke
  inputs: {value: "build \${{ trigger.body.build }} in \${{ trigger.body.env }}"}
`,
  );
  t.is((await cli(['rule', 'apply', file])).code, 0);
  t.is((await deliver(hook, { env: 'prod', build: 7 }, { token: 'wrong' })).status, 401);
  t.deepEqual((await deliver(hook, { env: 'prod', build: 7 }, { token })).body.runs, [], 'build 7 is not > 100');
  const fired = await deliver(hook, { env: 'prod', build: 142 }, { bearer: token });
  t.is(fired.status, 202, JSON.stringify(fired.body));
  const runId = fired.body.runs[0]?.workflowId;
  t.truthy(runId, JSON.stringify(fired.body));
  const view = await pipelineRunEnded(runId);
  t.is(view.status, 'succeeded');
  t.is(view.outputs.value, 'build 142 in prod from the pack');
  const described = await (await temporalClient()).workflow.getHandle(runId).describe();
  t.is(described.typedSearchAttributes.get(SearchAttributes.Actor), `rule:${rule}`);
  t.is(described.typedSearchAttributes.get(SearchAttributes.TriggerId), fired.body.trigger);
});

test.serial('rules are validated with line and column, versioned, listed, deleted; viewers cannot apply', async (t) => {
  const bad = write(
    'bad.yaml',
    `name: broken
trigger: {type: webhook.x}
criteria:
  trigger.body.a: {type: almostequals, pattern: 1}
  body.b: {type: equals, pattern: 2}
action:
  ref: testkit.nosuch
  parameters: {value: "\${{ trigger.body.a "}
`,
  );
  const r = await cli(['rule', 'apply', bad]);
  t.is(r.code, 2, 'bad input, nothing applied');
  for (const re of [/bad\.yaml:4:\d+: .*almostequals/, /bad\.yaml:5:\d+: .*trigger\./, /bad\.yaml:7:\d+: .*testkit\.nosuch/, /bad\.yaml:8:\d+: /])
    t.regex(r.stderr, re);
  t.is((await http('GET', '/api/v1/rules/broken')).status, 404, 'nothing applied');

  const name = uniqueName('versioned');
  const text = (pattern: string) =>
    `name: ${name}\ntrigger: {type: webhook.v}\ncriteria:\n  trigger.body.a: {type: equals, pattern: ${pattern}}\naction: {ref: testkit.noop}\n`;
  const f = write(`${name}.yaml`, text('one'));
  t.is((await cli(['rule', 'apply', f])).code, 0);
  t.deepEqual((JSON.parse((await cli(['rule', 'apply', f, '--json'])).stdout) as RuleApplyResponse).rules, [{ name, outcome: 'unchanged', version: 1 }]);
  fs.writeFileSync(f, text('two'));
  t.deepEqual((JSON.parse((await cli(['rule', 'apply', f, '--json'])).stdout) as RuleApplyResponse).rules, [{ name, outcome: 'updated', version: 2 }]);
  const got = (await http<RuleGetResponse>('GET', `/api/v1/rules/${name}`)).body;
  t.is(got.version, 2);
  t.is(got.source, text('two'));
  t.deepEqual(
    got.versions.map((v) => [v.version, v.change]),
    [
      [2, 'updated'],
      [1, 'created'],
    ],
  );
  const listed = await cli(['rule', 'list']);
  t.regex(listed.stdout, new RegExp(`${name}\\s+2\\s+webhook\\.v`));

  const viewer = (await makeKey({ name: uniqueName('viewer'), role: 'viewer' })).key;
  const denied = await fetch(`${API}/api/v1/rules/apply`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...as(viewer) },
    body: JSON.stringify({ files: [{ path: 'x.yaml', content: text('three') }] }),
  });
  t.is(denied.status, 403);

  t.is((await cli(['rule', 'delete', name])).code, 0);
  t.is((await http('GET', `/api/v1/rules/${name}`)).status, 404);
  t.is((await cli(['rule', 'delete', name])).code, 2);
});

test('the example rule is valid against the catalog and matches its example alert', async (t) => {
  const dir = path.join(PROJECT_ROOT, 'examples', 'rules');
  const v = await cli(['rule', 'validate', dir]);
  t.is(v.code, 0, v.stdout + v.stderr);
  t.regex(v.stdout, /1 rule in 1 file valid: check-service-on-alert/);
  t.notRegex(v.stdout, /not checked/, 'checked against the catalog');
  const r = await cli(['rule', 'test', path.join(dir, 'service-alert.yaml'), path.join(dir, 'alert.json'), '--json']);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /"port": 7380/);
  const quiet = write('resolved.json', JSON.stringify({ body: { status: 'resolved', labels: { alertname: 'ServiceDown', instance: 'web-3' } } }));
  t.is((await cli(['rule', 'test', path.join(dir, 'service-alert.yaml'), quiet])).code, 2, 'a resolved alert does not match');
});
