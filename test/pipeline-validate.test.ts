/**
 * Pipeline files validated through the public surfaces: `stackwire pipeline validate` and
 * POST /api/v1/pipelines/validate against the test stack's catalog (the testkit pack), every problem
 * with its exact line and column; the schema file itself; run inputs (plain unit tests).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { Ajv } from 'ajv';
import type { PipelineValidateResponse } from '../common/api-types.js';
import { durationSeconds, type PipelineDef } from '../common/pipeline.js';
import { PIPELINE_SCHEMA_FILE, checkPipelineInputs, inputsFromPairs } from '../lib/pipeline-validate.js';
import { as, cli, http, makeKey, uniqueName } from './helpers.js';

function folder(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stackwire-pipelines-'));
  for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), content);
  return dir;
}

const RELEASE = `# yaml-language-server: $schema=../../schemas/pipeline.schema.json
name: release-app
description: Build, check on every host, wait for an approval, tell the team.
on:
  push: {branches: [main]}
inputs:
  version: {type: string, required: true, description: the version to release}
  env: {type: string, enum: [staging, production], default: staging}
  hosts: {type: list, default: [web-1, web-2]}
env:
  APP_ENV: \${{ inputs.env }}
steps:
  - id: build
    action: testkit.echo_args
    with:
      message: build \${{ inputs.version }}
      tag: [ci, release]
      loud: true
    retry: {attempts: 3, backoff: 2}
    timeout: 5m
  - id: check
    needs: [build]
    action: testkit.echo_args
    for_each: \${{ inputs.hosts }}
    concurrency: 2
    with: {message: "\${{ item }} runs \${{ steps.build.outputs.version }}"}
    if: inputs.env == 'staging'
  - id: settle
    needs: [check]
    sleep: 30s
  - id: gate
    needs: [settle]
    approval: {deadline: 2h, approvers: [alice], message: "Ship \${{ inputs.version }}?"}
  - id: tell
    needs: [gate]
    pipeline: notify
    if: \${{ success() && steps.check.outputs.ok != 'false' }}
outputs:
  built: \${{ steps.build.outputs.version }}
on_failure:
  - id: cleanup
    action: testkit.fail
    with: {code: 0}
    if: always()
`;

const NOTIFY = `name: notify
steps:
  - id: say
    action: testkit.echo_args
    with: {message: done}
`;

test('a valid pipeline (and the sub-pipeline it calls, from the same folder) passes: exit 0 and a summary', async (t) => {
  const dir = folder({ 'release.yml': RELEASE, 'notify.yaml': NOTIFY, 'README.md': 'not a pipeline' });
  const r = await cli(['pipeline', 'validate', dir]);
  t.is(r.code, 0, r.stdout + r.stderr);
  t.is(r.stdout, '2 pipeline files valid: notify (1 step), release-app (5 steps)\n');

  const api = await http<PipelineValidateResponse>('POST', '/api/v1/pipelines/validate', {
    files: [
      { path: 'release.yml', content: RELEASE },
      { path: 'notify.yml', content: NOTIFY },
    ],
  });
  t.is(api.status, 200);
  t.deepEqual(api.body, {
    ok: true,
    problems: [],
    pipelines: [
      { file: 'release.yml', name: 'release-app', steps: 5 },
      { file: 'notify.yml', name: 'notify', steps: 1 },
    ],
  });
});

// Line numbers are the file's; every problem kind of the validator once.
const BROKEN = `name: broken
inputs:
  target: {type: string, required: true}
steps:
  - id: build
    action: testkit.echo_args
    with:
      message: building \${{ inputs.target }}
      loud: sometimes
    colour: blue
  - id: pause
    action: testkit.noop
    sleep: 10s
  - id: build
    action: testkit.noop
  - id: test
    action: testkit.fail
    needs: [build, lint]
    with: {code: 3}
  - id: a
    action: testkit.noop
    needs: [b]
  - id: b
    action: testkit.noop
    needs: [a]
  - id: ship
    action: testkit.echo_arg
  - id: report
    action: testkit.echo_args
    needs: [build]
    if: \${{ steps.build.outputs.ok == }}
    with:
      message: "\${{ steps.test.outputs.summary }} for \${{ inputs.region }}"
    timeout: 10 minutes
`;

const STEP_KEYS =
  'id, name, action, with, deploy, release, puppet, check, approval, pipeline, sleep, needs, if, retry, timeout, worker_wait, region, regions, for_each, concurrency, continue_on_error';

const BROKEN_PROBLEMS = [
  'broken.yml:9:13: steps[0].with.loud: testkit.echo_args parameter "loud" must be boolean (it is "sometimes")',
  `broken.yml:10:5: steps[0].colour: unknown key "colour"; known keys: ${STEP_KEYS}`,
  'broken.yml:11:5: steps[1]: a step needs exactly one of action, deploy, release, puppet, check, approval, pipeline, sleep (it has action and sleep)',
  'broken.yml:14:9: steps[2].id: step id "build" is used twice (first in steps[0]); ids are unique across steps and on_failure',
  'broken.yml:18:20: steps[3].needs[1]: needs "lint", which is not a step; steps: build, pause, test, a, b, ship, report',
  'broken.yml:22:13: steps[4].needs[0]: the needs form a cycle: a → b → a; no step of it could ever start',
  `broken.yml:27:13: steps[6].action: no action "testkit.echo_arg" in the catalog (did you mean "testkit.echo_args"?) ('stackwire action list' lists them)`,
  "broken.yml:31:9: steps[7].if: ${{ steps.build.outputs.ok == }}: Unexpected end of expression: '=='",
  'broken.yml:33:17: steps[7].with.message: ${{ steps.test.outputs.summary }}: step test is not upstream of step report; add "test" to its needs (or to the needs of a step it needs)',
  'broken.yml:33:55: steps[7].with.message: ${{ inputs.region }}: inputs.region is not a declared input; declared: target',
  'broken.yml:34:14: steps[7].timeout: "10 minutes" is not a duration; write seconds (90) or a number with a unit: "30s", "5m", "2h", "1d"',
];

test('a broken file reports every problem at once, each at its exact line and column; exit 1', async (t) => {
  const dir = folder({ 'broken.yml': BROKEN });
  const r = await cli(['pipeline', 'validate', path.join(dir, 'broken.yml')]);
  t.is(r.code, 1, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  t.deepEqual(
    lines.slice(0, -1).map((l) => l.replace(`${dir}/`, '')),
    BROKEN_PROBLEMS,
  );
  t.is(lines[lines.length - 1], '11 problems in 1 of 1 file');
});

test('--json gives the API answer: ok false, each problem with file, line, column and document path', async (t) => {
  const file = path.join(folder({ 'broken.yml': BROKEN }), 'broken.yml');
  const r = await cli(['pipeline', 'validate', file, '--json']);
  t.is(r.code, 1, r.stderr);
  const body = JSON.parse(r.stdout) as PipelineValidateResponse;
  t.false(body.ok);
  t.deepEqual(body.pipelines, []);
  t.is(body.problems.length, BROKEN_PROBLEMS.length);
  t.deepEqual(body.problems[0], {
    file,
    line: 9,
    column: 13,
    path: 'steps[0].with.loud',
    message: 'steps[0].with.loud: testkit.echo_args parameter "loud" must be boolean (it is "sometimes")',
  });
  t.deepEqual(
    body.problems.map((p) => p.path),
    [
      'steps[0].with.loud',
      'steps[0].colour',
      'steps[1]',
      'steps[2].id',
      'steps[3].needs[1]',
      'steps[4].needs[0]',
      'steps[6].action',
      'steps[7].if',
      'steps[7].with.message',
      'steps[7].with.message',
      'steps[7].timeout',
    ],
  );
});

test('a YAML syntax error is reported at its line and column, and nothing else is checked', async (t) => {
  const content = 'name: x\nsteps:\n  - id: a\n    action: testkit.noop\n   - id: b\n';
  const api = await http<PipelineValidateResponse>('POST', '/api/v1/pipelines/validate', { files: [{ path: 'indent.yml', content }] });
  t.is(api.status, 200);
  t.false(api.body.ok);
  t.is(api.body.problems.length, 1, JSON.stringify(api.body.problems));
  t.like(api.body.problems[0], { file: 'indent.yml', line: 5, column: 4, path: '' });
  t.regex(api.body.problems[0].message, /^YAML: /);

  const file = path.join(folder({ 'unclosed.yml': 'name: x\nsteps: [\n  {id: a, action: testkit.noop}\n' }), 'unclosed.yml');
  const r = await cli(['pipeline', 'validate', file]);
  t.is(r.code, 1);
  t.regex(r.stdout, new RegExp(`^${file}:4:1: YAML: .+\\n1 problem in 1 of 1 file\\n$`));
});

test('sub-pipelines are the files validated together; a pipeline name defined twice is a problem', async (t) => {
  const caller = 'name: caller\nsteps:\n  - id: go\n    pipeline: notfy\n';
  const alone = await http<PipelineValidateResponse>('POST', '/api/v1/pipelines/validate', {
    files: [
      { path: 'caller.yml', content: caller },
      { path: 'notify.yml', content: NOTIFY },
      { path: 'again.yml', content: NOTIFY },
    ],
  });
  t.deepEqual(
    alone.body.problems.map((p) => `${p.file}:${p.line}:${p.column}: ${p.message}`),
    [
      'caller.yml:4:15: steps[0].pipeline: no pipeline named "notfy" among the files validated with this one (did you mean "notify"?); they define: notify',
      'again.yml:1:7: name: pipeline "notify" is also defined in notify.yml; pipeline names are unique',
    ],
  );
  t.deepEqual(alone.body.pipelines, [{ file: 'notify.yml', name: 'notify', steps: 1 }]);
});

test('expressions in `with` are checked when the run has them, but unknown and missing parameters are reported now', async (t) => {
  const content = [
    'name: params',
    'inputs:',
    '  n: {type: number}',
    'steps:',
    '  - id: fail',
    '    action: testkit.fail',
    '    with: {code: "${{ inputs.n }}", verbose: "${{ inputs.n }}"}',
    '  - id: echo',
    '    action: testkit.echo_args',
    '    with: {label: x}',
  ].join('\n');
  const r = await http<PipelineValidateResponse>('POST', '/api/v1/pipelines/validate', { files: [{ path: 'p.yml', content }] });
  t.deepEqual(
    r.body.problems.map((p) => `${p.line}:${p.column}: ${p.message}`),
    [
      '7:37: steps[0].with.verbose: testkit.fail parameter "verbose" is not a parameter of this action; known parameters: code',
      '10:11: steps[1].with: testkit.echo_args parameter "message" is required (anything)',
    ],
  );
});

test('a viewer may validate; bad requests are 400 naming the limit, and unreadable files exit 2', async (t) => {
  const viewer = await makeKey({ name: uniqueName('viewer'), role: 'viewer' });
  const ok = await http<PipelineValidateResponse>('POST', '/api/v1/pipelines/validate', { files: [{ path: 'n.yml', content: NOTIFY }] }, as(viewer.key));
  t.is(ok.status, 200);
  t.true(ok.body.ok);
  const many = await http<{ error: { code: string; message: string } }>('POST', '/api/v1/pipelines/validate', {
    files: Array.from({ length: 101 }, (_, i) => ({ path: `p${i}.yml`, content: NOTIFY })),
  });
  t.is(many.status, 400);
  t.regex(many.body.error.message, /must NOT have more than 100 items/);
  const missing = await cli(['pipeline', 'validate', '/nonexistent/pipeline.yml']);
  t.is(missing.code, 2);
  t.regex(missing.stderr, /cannot read \/nonexistent\/pipeline\.yml: ENOENT/);
  const empty = await cli(['pipeline', 'validate', folder({ 'x.txt': '' })]);
  t.is(empty.code, 2);
  t.regex(empty.stderr, /holds no \.yml or \.yaml files/);
});

// The schema file, for editors as much as for the validator.
const schema = JSON.parse(fs.readFileSync(PIPELINE_SCHEMA_FILE, 'utf8')) as Record<string, unknown>;

test('the schema is draft-07, compiles strictly, and describes every property (editor completion)', (t) => {
  t.is(schema.$schema, 'http://json-schema.org/draft-07/schema#');
  t.notThrows(() => new Ajv({ strict: true, strictRequired: false }).compile(schema));
  const undescribed: string[] = [];
  const walk = (s: unknown, at: string) => {
    if (Array.isArray(s)) s.forEach((x, i) => walk(x, `${at}/${i}`));
    else if (s && typeof s === 'object') {
      for (const [k, v] of Object.entries(s as Record<string, unknown>)) {
        if (k === 'properties')
          for (const [name, p] of Object.entries(v as Record<string, { description?: string }>))
            if (!p.description) undescribed.push(`${at}/properties/${name}`);
        walk(v, `${at}/${k}`);
      }
    }
  };
  walk(schema, '#');
  t.deepEqual(undescribed, []);
});

test("the schema's duration pattern accepts exactly what durationSeconds reads", (t) => {
  const pattern = new RegExp((schema.definitions as Record<string, { anyOf: { pattern?: string }[] }>).duration.anyOf[1].pattern!);
  for (const s of ['90', '30s', '5m', '2h', '1d', '500ms', '1.5h', ' 10 s ', '5 minutes', 'forever', '-1', '1w', '', 'm']) {
    t.is(pattern.test(s), durationSeconds(s) !== undefined, JSON.stringify(s));
  }
});

// Run inputs: plain unit tests.
const DEF: PipelineDef = {
  name: 'inputs-demo',
  inputs: {
    version: { type: 'string', required: true, description: 'the version' },
    env: { type: 'string', enum: ['staging', 'production'], default: 'staging' },
    count: { type: 'number', default: 2 },
    dry: { type: 'boolean' },
    hosts: { type: 'list' },
    extra: { type: 'object' },
  },
  steps: [{ id: 'a', action: 'testkit.noop' }],
};

test('checkPipelineInputs: defaults applied; required, type, enum and unknown names reported', (t) => {
  t.deepEqual(checkPipelineInputs(DEF, { version: '1.2', dry: true }), { values: { version: '1.2', dry: true, env: 'staging', count: 2 }, problems: [] });
  t.deepEqual(checkPipelineInputs(DEF, { env: 'prod', count: '3', hosts: 'a', extra: [], verison: '1' }).problems, [
    'input env must be one of "staging", "production" (it is "prod")',
    'input count must be a number (it is "3")',
    'input hosts must be a list (it is "a")',
    'input extra must be an object (it is [])',
    'input verison is not declared by pipeline inputs-demo (did you mean "version"?); its inputs: version, env, count, dry, hosts, extra',
    'input version is required (the version); give it as version=…',
  ]);
});

test('inputsFromPairs: key=value typed by the declared input (lists as JSON or comma lists, objects as JSON)', (t) => {
  t.deepEqual(inputsFromPairs(DEF, ['version=1.2=rc', 'count=3.5', 'dry=yes', 'hosts=a, b', 'hosts=c', 'extra={"k":1}']), {
    values: { version: '1.2=rc', count: 3.5, dry: true, hosts: ['a', 'b', 'c'], extra: { k: 1 } },
    problems: [],
  });
  t.deepEqual(inputsFromPairs(DEF, ['hosts=']).values, { hosts: [] });
  t.deepEqual(inputsFromPairs(DEF, ['hosts=a', 'hosts=["x",1]']).values, { hosts: ['x', 1] });
  t.deepEqual(inputsFromPairs(DEF, ['count=many', 'dry=maybe', 'hosts=[1', 'extra=[]', 'nope=1', 'version']).problems, [
    'input count must be a number (got "many")',
    'input dry must be true or false (got "maybe")',
    'input hosts must be a JSON array or a comma-separated list (got "[1")',
    'input extra must be a JSON object (got "[]")',
    'input nope is not declared by pipeline inputs-demo; its inputs: version, env, count, dry, hosts, extra',
    '"version" is not key=value; write e.g. version=value',
  ]);
});
