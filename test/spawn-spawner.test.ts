/**
 * lib/spawn.ts through a spawner (lib/spawner.ts), as a regional worker starts its scripts: the same
 * cases as a fork of this process (test/spawn-cases.ts), the pipes relayed over the spawner's channel.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { runProcess, startProcess, useSpawner } from '../lib/spawn.js';
import { Spawner } from '../lib/spawner.js';
import { alive, config, eventually } from './helpers.js';
import { spawnCases } from './spawn-cases.js';

const spawner = new Spawner({ onWarning: (m) => console.error(m) });
useSpawner(spawner);
test.after.always(() => spawner.stop());

test("spawner: the processes are the spawner's children, not this process's", async (t) => {
  const p = startProcess({ argv: ['sleep', '0.2'], env: { PATH: config.scriptEnv.PATH } });
  const pid = await p.started;
  t.truthy(pid);
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  t.is(ppid, spawner.pid!);
  t.not(ppid, process.pid);
  t.is((await p.done).code, 0);
});

const PATH = config.scriptEnv.PATH;

// Serial: these kill a spawner, and run before the concurrent cases.
test.serial('spawner: one that dies mid-run takes the process group with it; the run ends killed, never hanging; the next start forks a new one', async (t) => {
  const first = spawner.pid!;
  let child: number | undefined;
  const p = startProcess({ argv: ['bash', '-c', 'sleep 300 & echo $!; wait'], env: { PATH }, onStdout: (b) => (child ??= Number(b.toString().trim())) });
  const pid = await p.started;
  await eventually(() => child !== undefined, 'the script to say its child');
  process.kill(first, 'SIGKILL');
  const r = await p.done;
  t.is(r.signal, 'SIGKILL');
  t.true(r.lostSpawner);
  await eventually(() => !alive(pid!) && !alive(child!), 'the script and its child to be gone', 10_000);
  t.is((await runProcess({ argv: ['true'], env: { PATH } })).code, 0);
  t.not(spawner.pid, first, 'a new spawner');
});

test.serial('spawner: one that dies before it said a process started: the process is found by its lifeline marker and killed; the run ends', async (t) => {
  const held = new Spawner({ hold: { ms: 30_000 }, onWarning: () => undefined });
  useSpawner(held);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stackwire-spawner-'));
  try {
    const p = startProcess({ argv: ['bash', '-c', 'echo $$ > pid; exec sleep 300'], env: { PATH }, cwd: dir });
    await eventually(() => fs.existsSync(path.join(dir, 'pid')) && fs.readFileSync(path.join(dir, 'pid'), 'utf8').endsWith('\n'), 'the script to run');
    const pid = Number(fs.readFileSync(path.join(dir, 'pid'), 'utf8'));
    t.is(p.pid, undefined, 'the spawner has not said it runs');
    process.kill(held.pid!, 'SIGKILL');
    const r = await p.done;
    t.is(r.signal, 'SIGKILL');
    t.true(r.lostSpawner);
    await eventually(() => !alive(pid), 'the script to be gone', 10_000);
  } finally {
    useSpawner(spawner);
    held.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

spawnCases('spawner');
