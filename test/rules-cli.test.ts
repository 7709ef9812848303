/**
 * Rules through the CLI: `stackwire rule test` (offline matching) for every operator, matching and
 * not, with StackStorm's semantics; missing paths; the target's parameters rendered from the payload;
 * `stackwire rule validate` reporting every problem with its line and column, multi-document files,
 * and the actions checked against the test stack's catalog (the testkit pack). No rule is applied.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { Ajv } from 'ajv';
import { RULE_SCHEMA_FILE } from '../lib/rule-files.js';
import { cli } from './helpers.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stackwire-rules-'));
function write(name: string, content: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, content);
  return file;
}

const PAYLOAD = {
  body: {
    severity: 'critical',
    host: 'web-12',
    env: 'Production',
    count: 7,
    ratio: 0.5,
    version: '1.10',
    tags: ['urgent', 'db'],
    labels: { team: 'sre' },
    message: 'Disk FULL on web-12\nsecond line',
    hosts: [{ name: 'web-1' }, { name: 'db-2' }],
    nothing: null,
  },
  headers: { 'X-Hub.Event': 'push' },
};
const payloadFile = write('payload.json', JSON.stringify(PAYLOAD));

/** [path, operator, pattern (undefined: none), whether it holds for PAYLOAD] */
type Case = [string, string, unknown, boolean];

/** One rule per case, in one multi-document file; `rule test --json` gives each rule's outcome. */
async function outcomes(family: string, cases: Case[]): Promise<{ got: Record<string, boolean>; want: Record<string, boolean>; code: number | null }> {
  const docs = cases.map(
    ([p, op, pattern], i) =>
      `name: ${family}-${i}\ntrigger: {type: webhook.alerts}\ncriteria:\n  ${JSON.stringify(p)}:\n    type: ${op}\n` +
      (pattern === undefined ? '' : `    pattern: ${JSON.stringify(pattern)}\n`) +
      'action: {ref: testkit.noop}\n',
  );
  const file = write(`${family}.yml`, docs.join('---\n'));
  const r = await cli(['rule', 'test', file, payloadFile, '--json']);
  if (r.code !== 0 && r.code !== 2) throw new Error(`rule test failed (${r.code}): ${r.stdout}${r.stderr}`);
  const body = JSON.parse(r.stdout) as { rules: { name: string; matches: boolean }[] };
  const label = (i: number) => `${family}-${i}: ${cases[i][0]} ${cases[i][1]} ${JSON.stringify(cases[i][2]) ?? ''}`;
  return {
    got: Object.fromEntries(body.rules.map((x, i) => [label(i), x.matches])),
    want: Object.fromEntries(cases.map((c, i) => [label(i), c[3]])),
    code: r.code,
  };
}

const FAMILIES: Record<string, Case[]> = {
  equality: [
    ['trigger.body.severity', 'equals', 'critical', true],
    ['trigger.body.severity', 'equals', 'Critical', false],
    ['trigger.body.count', 'equals', 7, true],
    ['trigger.body.count', 'equals', '7', false], // no coercion, as in StackStorm
    ['trigger.body.tags', 'equals', ['urgent', 'db'], true],
    ['trigger.body.labels', 'eq', { team: 'sre' }, true],
    ['trigger.body.severity', 'nequals', 'warning', true],
    ['trigger.body.severity', 'neq', 'critical', false],
    ['trigger.body.env', 'iequals', 'PRODUCTION', true],
    ['trigger.body.env', 'ieq', 'staging', false],
    ['trigger.body.count', 'iequals', '7', false], // not a string
  ],
  ordering: [
    ['trigger.body.count', 'lessthan', 10, true],
    ['trigger.body.count', 'lessthan', 7, false],
    ['trigger.body.count', 'greaterthan', 5, true],
    ['trigger.body.count', 'greaterthan', 7, false],
    ['trigger.body.ratio', 'lt', 1, true],
    ['trigger.body.ratio', 'gt', 0.5, false],
    ['trigger.body.count', 'lessthan', '10', false], // a number and a string do not compare
    ['trigger.body.version', 'lessthan', '1.9', true], // two strings compare as text
    ['trigger.body.severity', 'greaterthan', 'blocker', true],
  ],
  substrings: [
    ['trigger.body.message', 'contains', 'FULL', true],
    ['trigger.body.message', 'contains', 'full', false],
    ['trigger.body.tags', 'contains', 'urgent', true], // a list item
    ['trigger.body.tags', 'contains', 'urg', false],
    ['trigger.body.labels', 'contains', 'team', true], // a key
    ['trigger.body.message', 'ncontains', 'ok', true],
    ['trigger.body.tags', 'ncontains', 'urgent', false],
    ['trigger.body.count', 'ncontains', '7', false], // not a string, list or mapping
    ['trigger.body.message', 'icontains', 'disk full', true],
    ['trigger.body.message', 'icontains', 'nope', false],
    ['trigger.body.message', 'incontains', 'nope', true],
    ['trigger.body.message', 'incontains', 'DISK', false],
    ['trigger.body.host', 'startswith', 'web-', true],
    ['trigger.body.host', 'startswith', 'WEB', false],
    ['trigger.body.host', 'istartswith', 'WEB', true],
    ['trigger.body.host', 'istartswith', 'db', false],
    ['trigger.body.host', 'endswith', '-12', true],
    ['trigger.body.host', 'endswith', '-1', false],
    ['trigger.body.message', 'iendswith', 'LINE', true],
    ['trigger.body.message', 'iendswith', 'web-12', false],
  ],
  patterns: [
    ['trigger.body.host', 'matchwildcard', 'web-*', true],
    ['trigger.body.host', 'matchwildcard', 'web-?', false],
    ['trigger.body.host', 'matchwildcard', 'web-[0-9][0-9]', true],
    ['trigger.body.host', 'matchwildcard', 'WEB-*', false], // case-sensitive
    ['trigger.body.host', 'matchwildcard', '[!w]*', false],
    ['trigger.body.host', 'matchwildcard', 'web', false], // the whole string
    ['trigger.body.host', 'regex', '\\d+$', true], // re.search: anywhere
    ['trigger.body.host', 'regex', '^db', false],
    ['trigger.body.host', 'regex', '(?P<svc>web)-\\d', true], // Python's named groups
    ['trigger.body.host', 'matchregex', 'web', true], // re.match: anchored at the start
    ['trigger.body.host', 'matchregex', 'eb-', false],
    ['trigger.body.message', 'matchregex', 'Disk.*line', true], // DOTALL
    ['trigger.body.message', 'regex', 'Disk.*line', false], // no DOTALL
    ['trigger.body.message', 'iregex', 'disk full', true],
    ['trigger.body.message', 'iregex', '^second', false], // not multi-line
    ['trigger.body.count', 'regex', '7', false], // not a string
  ],
  membership: [
    ['trigger.body.severity', 'exists', undefined, true],
    ['trigger.body.nothing', 'exists', undefined, false], // null is missing
    ['trigger.body.absent', 'exists', undefined, false],
    ['trigger.body.absent', 'nexists', undefined, true],
    ['trigger.body.nothing', 'nexists', undefined, true],
    ['trigger.body.severity', 'nexists', undefined, false],
    ['trigger.body.severity', 'inside', ['warning', 'critical'], true],
    ['trigger.body.severity', 'in', ['ok'], false],
    ['trigger.body.count', 'inside', [7, 8], true],
    ['trigger.body.severity', 'inside', 'critical-only', true], // a substring of a string pattern
    ['trigger.body.severity', 'ninside', ['ok'], true],
    ['trigger.body.severity', 'nin', ['critical'], false],
  ],
  paths: [
    ['trigger.body.hosts.1.name', 'equals', 'db-2', true],
    ['trigger.body.hosts[0].name', 'equals', 'web-1', true],
    ['trigger.body.hosts.2.name', 'exists', undefined, false],
    ["trigger.headers['X-Hub.Event']", 'equals', 'push', true],
    ['trigger.body.labels.team', 'equals', 'sre', true],
    ['trigger.body.host.x', 'exists', undefined, false],
  ],
};

for (const [family, cases] of Object.entries(FAMILIES)) {
  test(`rule test: ${family} operators match and fail exactly as StackStorm's`, async (t) => {
    const { got, want, code } = await outcomes(family, cases);
    t.deepEqual(got, want);
    t.is(code, 0);
  });
}

test('rule test: a missing path fails every operator but nexists, nequals and ninside (a list)', async (t) => {
  const patterns: Record<string, unknown> = { lessthan: 5, greaterthan: 5, inside: ['x'], ninside: ['x'], in: ['x'], nin: ['x'], equals: 'x', nequals: 'x' };
  const ops = ['equals', 'nequals', 'iequals', 'lessthan', 'greaterthan', 'matchwildcard', 'matchregex', 'regex', 'iregex', 'contains', 'ncontains'];
  const more = ['icontains', 'incontains', 'startswith', 'istartswith', 'endswith', 'iendswith', 'exists', 'nexists', 'inside', 'ninside', 'in', 'nin'];
  const holds = new Set(['nexists', 'nequals', 'ninside', 'nin']);
  const cases = [...ops, ...more].map((op): Case => [
    'trigger.body.absent',
    op,
    ['exists', 'nexists'].includes(op) ? undefined : (patterns[op] ?? 'x'),
    holds.has(op),
  ]);
  const { got, want } = await outcomes('missing', cases);
  t.deepEqual(got, want);
});

test('rule test: the criteria with the values found, the target with its rendered parameters; exit 0 on a match, 2 otherwise', async (t) => {
  const file = write(
    'render.yml',
    `name: restart-web
trigger: {type: webhook.alerts}
criteria:
  trigger.body.severity: {type: equals, pattern: critical}
  trigger.body.host: {type: matchwildcard, pattern: "web-*"}
action:
  ref: testkit.echo_args
  region: us-east
  parameters:
    message: restart \${{ trigger.body.host }} (\${{ trigger.body.count }} alerts)
    tag: \${{ trigger.body.tags }}
    label: \${{ format('{0}/{1}', trigger.body.env, trigger.body.hosts[1].name) }}
    loud: true
    token: \${{ trigger.body.secret }}
`,
  );
  const r = await cli(['rule', 'test', file, payloadFile]);
  t.is(r.code, 0, r.stderr);
  t.is(
    r.stdout,
    `rule restart-web (webhook.alerts): matches
  ok  trigger.body.severity  equals         "critical"  value: "critical"
  ok  trigger.body.host      matchwildcard  "web-*"     value: "web-12"
runs action testkit.echo_args in us-east with parameters:
  message: "restart web-12 (7 alerts)"
  tag: ["urgent","db"]
  label: "Production/db-2"
  loud: true
  token: null
  warning: token: \${{ trigger.body.secret }}: the payload has no trigger.body.secret (it reads as null)
`,
  );

  const other = write('other-payload.json', JSON.stringify({ body: { severity: 'warning', host: 'db-1' } }));
  const miss = await cli(['rule', 'test', file, other, '--json']);
  t.is(miss.code, 2, miss.stderr);
  const body = JSON.parse(miss.stdout) as { matches: boolean; rules: { matches: boolean; criteria: unknown[]; values: Record<string, unknown> }[] };
  t.false(body.matches);
  t.deepEqual(body.rules[0].criteria, [
    { path: 'trigger.body.severity', type: 'equals', pattern: 'critical', value: 'warning', found: true, ok: false },
    { path: 'trigger.body.host', type: 'matchwildcard', pattern: 'web-*', value: 'db-1', found: true, ok: false },
  ]);
  t.is(body.rules[0].values.message, 'restart db-1 ( alerts)');

  const pipeline = write(
    'pipeline.yml',
    'name: p\ntrigger: {type: git.push}\npipeline: {component: web, ref: main, name: deploy, inputs: {sha: "${{ trigger.after }}"}}\n',
  );
  const p = await cli(['rule', 'test', pipeline, write('push.json', '{"after": "abc123"}')]);
  t.is(p.code, 0, p.stderr);
  t.is(
    p.stdout,
    'rule p (git.push): matches\n  no criteria: every event of this trigger type matches\nruns pipeline deploy of component web@main with inputs:\n  sha: "abc123"\n',
  );
});

test('rule test: errors exit 1 — a bad payload, a broken rule file, an unknown rule name, a missing argument', async (t) => {
  const rule = write('ok.yml', 'name: ok\ntrigger: {type: a.b}\naction: {ref: testkit.noop}\n');
  const badJson = await cli(['rule', 'test', rule, write('bad.json', '{nope')]);
  t.is(badJson.code, 1);
  t.regex(badJson.stderr, /the payload .*bad\.json is not JSON/);
  const broken = await cli(['rule', 'test', write('broken-test.yml', 'name: x\ntrigger: {type: a}\n'), payloadFile]);
  t.is(broken.code, 1);
  t.regex(broken.stdout, /broken-test\.yml:1:1: a rule runs an action or a pipeline/);
  const unknown = await cli(['rule', 'test', 'no-such-rule', payloadFile]);
  t.is(unknown.code, 1);
  t.regex(unknown.stderr, /there is no file no-such-rule, so it was taken for the name of an applied rule/);
  const usage = await cli(['rule', 'test', rule]);
  t.is(usage.code, 1);
  t.regex(usage.stderr, /missing required argument 'payload'/);
});

const BROKEN = `name: Restart_Web
trigger:
  type: webhook.alerts
criteria:
  body.severity:
    type: equals
    pattern: critical
  trigger.body.host:
    type: matchwild
    pattern: web-*
  trigger.body.count:
    type: lessthan
    pattern: [10]
  trigger.body.message:
    type: regex
    pattern: disk (full|low
  trigger.body.env: production
action:
  ref: testkit.echo_arg
  parameters:
    message: restart \${{ inputs.host }}
    loud: \${{ trigger.body. }}
colour: blue
`;

const MULTI = `# two rules in one file, then a third with the first's name
name: page-on-critical
trigger: {type: sensu.event}
criteria:
  trigger.check.status: {type: equals, pattern: 2}
action:
  ref: testkit.echo_args
  parameters:
    message: \${{ trigger.check.name }}
    loud: sometimes
---
name: remediate-disk
trigger: {type: sensu.event}
pipeline:
  pack: testkit
  ref: main
  name: smoke
---
name: page-on-critical
trigger: {type: webhook.x}
action: {ref: testkit.noop}
`;

const OPERATORS =
  'equals, nequals, iequals, lessthan, greaterthan, matchwildcard, matchregex, regex, iregex, contains, ncontains, icontains, incontains, startswith, istartswith, endswith, iendswith, exists, nexists, inside, ninside, eq, neq, ieq, lt, gt, in, nin';

test('rule validate: every problem of several files at once, each at its line and column, against the catalog; exit 1', async (t) => {
  const broken = write('broken.yml', BROKEN);
  const multi = write('multi.yml', MULTI);
  const r = await cli(['rule', 'validate', broken, multi]);
  t.is(r.code, 1, r.stderr);
  t.deepEqual(r.stdout.replaceAll(`${dir}/`, '').trimEnd().split('\n'), [
    'broken.yml:1:7: name: "Restart_Web" does not match ^[a-z0-9][a-z0-9_.-]{0,99}$',
    'broken.yml:5:3: criteria["body.severity"]: criteria key "body.severity" is not a payload path: it must start with "trigger." (trigger.body.severity?)',
    `broken.yml:9:11: criteria["trigger.body.host"].type: unknown operator "matchwild" (did you mean "matchwildcard"?); operators: ${OPERATORS}`,
    'broken.yml:13:14: criteria["trigger.body.count"].pattern: the pattern of lessthan must be a number (or a string, compared as text) (it is a list)',
    'broken.yml:16:19: criteria["trigger.body.message"].pattern: the regular expression does not compile: Unterminated group (at position 5 of the pattern)',
    'broken.yml:17:21: criteria["trigger.body.env"]: a criterion is a mapping {type: <operator>, pattern: <value>}, e.g. {type: equals, pattern: "production"} (it is "production")',
    `broken.yml:19:8: action.ref: no action "testkit.echo_arg" in the catalog (did you mean "testkit.echo_args"?) ('stackwire action list' lists them)`,
    "broken.yml:21:22: action.parameters.message: ${{ inputs.host }}: a rule's expressions read only trigger (the event's payload); inputs is not set here",
    "broken.yml:22:11: action.parameters.loud: ${{ trigger.body. }}: Unexpected symbol: 'EOF'",
    'broken.yml:23:1: colour: unknown key "colour"; known keys: name, description, enabled, trigger, criteria, action, pipeline',
    'multi.yml:10:11: action.parameters.loud: testkit.echo_args parameter "loud" must be boolean (it is "sometimes")',
    "multi.yml:16:3: pipeline.ref: ref is a branch, tag or commit of a component's repository: give component: with it, or remove it",
    'multi.yml:19:7: name: rule "page-on-critical" is also defined earlier in this file; rule names are unique',
    '13 problems in 2 of 2 files',
  ]);

  // --offline: the same without the catalog's two.
  const offline = await cli(['rule', 'validate', broken, multi, '--offline']);
  t.is(offline.code, 1);
  t.regex(offline.stdout, /\n11 problems in 2 of 2 files \(actions not checked: --offline\)\n$/);
});

test('rule validate: valid files (several rules in one) pass with a summary; --json lists the rules', async (t) => {
  const a = write(
    'valid-a.yml',
    `name: page-on-critical
description: page when a check goes critical
trigger: {type: sensu.event}
criteria:
  trigger.check.status: {type: equals, pattern: 2}
  trigger.check.output: {type: iregex, pattern: "(?i)disk|inode"}
action:
  ref: testkit.echo_args
  parameters: {message: "\${{ trigger.check.name }}", loud: true}
---
name: remediate
enabled: false
trigger: {type: webhook.alerts}
pipeline: {pack: testkit, name: smoke, inputs: {who: "\${{ trigger.body.host }}"}}
`,
  );
  const b = write('valid-b.yaml', 'name: nightly\ntrigger: {type: schedule.nightly}\naction: {ref: testkit.noop}\n---\n');
  const r = await cli(['rule', 'validate', a, b]);
  t.is(r.code, 0, r.stdout + r.stderr);
  t.is(r.stdout, '3 rules in 2 files valid: page-on-critical, remediate, nightly\n');
  const j = await cli(['rule', 'validate', a, '--json']);
  t.is(j.code, 0);
  const body = JSON.parse(j.stdout) as { ok: boolean; problems: unknown[]; rules: { file: string; name: string }[]; catalog: string | null };
  t.true(body.ok);
  t.deepEqual(
    body.rules.map((x) => [x.file, x.name]),
    [
      [a, 'page-on-critical'],
      [a, 'remediate'],
    ],
  );
  t.truthy(body.catalog);
});

test('rule validate: a YAML syntax error and an empty file are reported where they are', async (t) => {
  const bad = write('syntax.yml', 'name: x\ntrigger:\n  type: a\n   action: b\n');
  const empty = write('empty.yml', '# nothing yet\n');
  const r = await cli(['rule', 'validate', bad, empty, '--offline']);
  t.is(r.code, 1);
  const lines = r.stdout.replaceAll(`${dir}/`, '').trimEnd().split('\n');
  t.is(lines[0], 'syntax.yml:3:9: YAML: Nested mappings are not allowed in compact mappings');
  t.is(lines[lines.length - 2], 'empty.yml:1:1: the file holds no rule: a rule is a mapping with name, trigger, and action or pipeline');
});

test('schemas/rule.schema.json compiles and accepts the README example', (t) => {
  const validate = new Ajv({ strict: true, strictRequired: false }).compile(JSON.parse(fs.readFileSync(RULE_SCHEMA_FILE, 'utf8')) as object);
  const rule = {
    name: 'restart-on-critical',
    trigger: { type: 'webhook.alerts' },
    criteria: { 'trigger.body.severity': { type: 'equals', pattern: 'critical' }, "trigger.headers['X-Hub.Event']": { type: 'exists' } },
    action: { ref: 'ops.restart_service', parameters: { host: '${{ trigger.body.host }}' }, region: 'us-east' },
  };
  t.true(validate(rule), JSON.stringify(validate.errors));
  t.false(validate({ ...rule, pipeline: { pack: 'ops', name: 'x' } }));
});
