/**
 * What a run's output becomes (README, Execution logs): the execution record keeps the first
 * STACKWIRE_OUTPUT_CAP bytes of each stream and says it cut them; the execution log keeps everything
 * up to 4 × the cap, then says where it stopped; `stackwire execution logs --follow` prints the output
 * while the run goes on and ends when the run ends.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { CLI_ENTRY, NODE } from '../lib/paths.js';
import { API, cli, config, eventually, http, runViaApi, type Execution } from './helpers.js';

const CAP = config.worker.outputCapBytes;
const line = (i: number) => `line ${String(i).padStart(6, '0')} ${'x'.repeat(1011)}`;

test('the record keeps the first STACKWIRE_OUTPUT_CAP bytes of stdout and says it cut them; the log keeps all of it', async (t) => {
  t.is(CAP, 65536, 'the suite runs with the default cap');
  const { id, execution } = await runViaApi({ action: 'testkit.flood', parameters: { lines: 100 }, region: 'us-east' });
  t.is(execution.status, 'succeeded', execution.error ?? '');
  // The first 64 lines of 1 KiB (exactly the cap), then what was left out.
  t.is(execution.stdout, `${Array.from({ length: 64 }, (_, i) => `${line(i + 1)}\n`).join('')}\n[… ${100 * 1024 - CAP} more bytes not kept]`);
  t.true(execution.stdoutTruncated, 'the record says stdout was cut');
  t.false(execution.stderrTruncated);
  t.is(execution.stderr, 'flooded 100\n');

  const logs = await cli(['execution', 'logs', id]);
  t.is(logs.code, 0, logs.stderr);
  t.is(logs.stdout, Array.from({ length: 100 }, (_, i) => `${line(i + 1)}\n`).join(''), 'the log has every line, in order');
  t.regex(logs.stderr, /flooded 100/);
});

test('the log stops at 4 × STACKWIRE_OUTPUT_CAP and says so', async (t) => {
  const { id, execution } = await runViaApi({ action: 'testkit.flood', parameters: { lines: 300 }, region: 'us-east' });
  t.is(execution.status, 'succeeded', execution.error ?? '');
  const logs = await cli(['execution', 'logs', id, '--json']);
  t.is(logs.code, 0, logs.stderr);
  const entries = JSON.parse(logs.stdout) as { stream: string; data: string }[];
  const stored = entries.filter((e) => e.stream !== 'system').reduce((a, e) => a + Buffer.byteLength(e.data), 0);
  t.is(stored, 4 * CAP, 'stdout and stderr together, up to 4 × the cap');
  t.true(
    entries.some((e) => e.stream === 'system' && e.data.includes(`[log capped at ${4 * CAP} bytes`)),
    'a system line says where the log stopped',
  );
  t.false(
    entries.some((e) => e.data.includes('flooded 300')),
    'nothing after the cap is stored',
  );
});

test('execution logs --follow prints the output while the run goes on, and ends when the run ends', async (t) => {
  // The run prints 3 lines, then waits for a file this test creates only once the follower has printed
  // them: "while the run goes on" holds by construction, whatever the machine's load.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stackwire-follow-'));
  fs.chmodSync(dir, 0o777); // the script runs as the run user
  const gate = path.join(dir, 'go');
  const started = await http<{ id: string }>('POST', '/api/v1/executions', { action: 'testkit.gated', parameters: { gate, lines: 3 }, region: 'us-east' });
  t.is(started.status, 202, JSON.stringify(started.body));
  const id = started.body.id;
  try {
    const child = spawn(NODE, [CLI_ENTRY, '--api', API, 'execution', 'logs', id, '--follow'], { env: process.env });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    await eventually(() => out.includes('line 000003'), 'the follower to print the first lines', 120_000);
    t.is(out, Array.from({ length: 3 }, (_, i) => `${line(i + 1)}\n`).join(''), 'the first lines, while the run waits');
    t.is((await http<Execution>('GET', `/api/v1/executions/${id}`)).body.status, 'running', 'the run is still going');
    fs.writeFileSync(gate, '');
    t.is(await exited, 0, stderr);
    t.is(out, Array.from({ length: 6 }, (_, i) => `${line(i + 1)}\n`).join(''), 'every line once, in order');
    t.regex(stderr, /gated 3/);
    t.is((await http<Execution>('GET', `/api/v1/executions/${id}`)).body.status, 'succeeded', 'it ended when the run ended');
  } finally {
    fs.writeFileSync(gate, '');
  }
});

test('output that is not text (a NUL byte, invalid UTF-8) is kept with each such byte as U+FFFD in the record and the log, and the run ends as it did; a character split between two reads is whole', async (t) => {
  const { id, execution } = await runViaApi({ action: 'testkit.binary', parameters: {}, region: 'us-east' });
  t.is(execution.status, 'succeeded', execution.error ?? '');
  t.is(execution.stdout, 'before\uFFFDafter \uFFFD\uFFFD end\ncafé\n');
  t.is(execution.stderr, 'err\uFFFDor\n');
  const logs = await cli(['execution', 'logs', id, '--json']);
  t.is(logs.code, 0, logs.stderr);
  const entries = JSON.parse(logs.stdout) as { stream: string; data: string }[];
  const stream = (name: string) =>
    entries
      .filter((e) => e.stream === name)
      .map((e) => e.data)
      .join('');
  t.is(stream('stdout'), 'before\uFFFDafter \uFFFD\uFFFD end\ncafé\n');
  t.is(stream('stderr'), 'err\uFFFDor\n');
});
