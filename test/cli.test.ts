/** The `stackwire` command, run as a user runs it, against the API of the test stack. */
import test from 'ava';
import { cli } from './helpers.js';

test('stackwire run waits and prints the output; exit 0 on success', async (t) => {
  const r = await cli(['run', 'testkit.echo_args', 'message=from the cli', 'tag=a,b', 'loud=true', '--region', 'eu-west']);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /execution testkit\.echo_args-eu-west-\w+: succeeded \(exit code 0\) in \d+ ms on eu-west@/);
  t.regex(r.stdout, /"argv": \["--label", "none", "--tag", "a", "--tag", "b", "--loud", "from the cli"\]/);
});

test('stackwire run --json prints the execution record', async (t) => {
  const r = await cli(['run', 'ops.disk_report', 'path=/', 'threshold=100', 'json=true', '--json']);
  t.is(r.code, 0, r.stderr);
  const e = JSON.parse(r.stdout) as { status: string; exitCode: number; stdout: string; action: string };
  t.is(e.status, 'succeeded');
  t.is(e.action, 'ops.disk_report');
  t.is((JSON.parse(e.stdout) as { path: string; threshold: number }).threshold, 100);
});

test('bad parameters exit 2 naming the parameter; nothing starts', async (t) => {
  const typeErr = await cli(['run', 'ops.disk_report', 'path=/', 'threshold=lots']);
  t.is(typeErr.code, 2);
  t.regex(typeErr.stderr, /threshold: must be an integer \(got "lots"\)/);
  const missing = await cli(['run', 'ops.disk_report', 'threshold=50']);
  t.is(missing.code, 2);
  t.regex(missing.stderr, /path: is required/);
  const unknown = await cli(['run', 'ops.disk_report', 'path=/', 'colour=red']);
  t.is(unknown.code, 2);
  t.regex(unknown.stderr, /colour: is not a parameter of this action/);
  const noAction = await cli(['run', 'ops.nope']);
  t.is(noAction.code, 2);
  t.regex(noAction.stderr, /no action named "ops\.nope"/);
  const badPair = await cli(['run', 'ops.disk_report', 'justaword']);
  t.is(badPair.code, 2);
  t.regex(badPair.stderr, /justaword: is not key=value/);
});

test("a failed run exits 1 and shows the script's stderr", async (t) => {
  const r = await cli(['run', 'testkit.fail', 'code=2']);
  t.is(r.code, 1);
  t.regex(r.stdout, /failed \(exit code 2\)/);
  t.regex(r.stderr, /relation "users" does not exist/, "the script's stderr streams to ours");
  t.regex(r.stdout, /doing the work/, 'and its stdout to ours');
});

test("a retried run is followed to its last attempt: every attempt's output, then the final status", async (t) => {
  // testkit.fail declares max_attempts: 3 and exit code 3 is retryable. Between attempts the run is
  // not over, so the CLI must not stop at the end of the first one.
  const r = await cli(['run', 'testkit.fail', 'code=3']);
  t.is(r.code, 1, r.stderr);
  t.regex(r.stdout, /failed \(exit code 3\)/);
  t.regex(r.stderr, /--- attempt 2 ---[\s\S]*--- attempt 3 ---/, "the later attempts' output is streamed too");
  t.is((r.stderr.match(/relation "users" does not exist/g) ?? []).length, 3, 'stderr of each of the three attempts');
});

test('stackwire execution get shows a finished run, as text and JSON', async (t) => {
  const started = await cli(['run', 'testkit.echo_args', 'message=later', '--no-wait']);
  t.is(started.code, 0, started.stderr);
  const id = started.stdout.trim();
  t.regex(id, /^testkit\.echo_args-us-east-[0-9a-f]+$/);
  const waited = await cli(['execution', 'get', id, '--wait', '--json']);
  t.is(waited.code, 0, waited.stderr);
  t.is((JSON.parse(waited.stdout) as { status: string }).status, 'succeeded');
  const text = await cli(['execution', 'get', id]);
  t.regex(text.stdout, new RegExp(`execution ${id.replace(/\./g, '\\.')}: succeeded`));
  const list = await cli(['execution', 'list', '--action', 'testkit.echo_args', '--limit', '1000', '--json']);
  t.true((JSON.parse(list.stdout) as { id: string }[]).some((e) => e.id === id));
});

test('action list and show describe the catalog', async (t) => {
  const list = await cli(['action', 'list', '--pack', 'ops']);
  t.is(list.code, 0);
  t.regex(list.stdout, /ops\.disk_report\s+1\s+python/);
  const show = await cli(['action', 'show', 'ops.disk_report']);
  t.is(show.code, 0);
  t.regex(show.stdout, /threshold\s+integer\s+90/);
  t.regex(show.stdout, /unit\s+string\s+"GiB"\s+B\|GiB\|KiB\|MiB/);
  t.regex(show.stdout, /example: python3 scripts\/disk_report\.py --threshold 90 --unit GiB '<path>'/);
  const json = await cli(['action', 'show', 'ops.disk_report', '--json']);
  t.is((JSON.parse(json.stdout) as { name: string }).name, 'ops.disk_report');
});

test('every command has --help', async (t) => {
  for (const args of [
    ['--help'],
    ['run', '--help'],
    ['execution', 'get', '--help'],
    ['execution', 'list', '--help'],
    ['execution', 'cancel', '--help'],
    ['action', 'list', '--help'],
    ['action', 'show', '--help'],
    ['ingest', '--help'],
    ['pack', 'report', '--help'],
  ]) {
    const r = await cli(args);
    t.is(r.code, 0, args.join(' '));
    t.regex(r.stdout, /Usage: stackwire/, args.join(' '));
    t.regex(r.stdout, /--json|Commands:/, args.join(' '));
  }
});

test('an unreachable API is reported with what to do', async (t) => {
  const r = await cli(['action', 'list'], { STACKWIRE_API_URL: 'http://127.0.0.1:9' });
  t.is(r.code, 1);
  t.regex(r.stderr, /cannot reach the Stackwire API at http:\/\/127\.0\.0\.1:9 .*npm start/);
});
