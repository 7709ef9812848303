/**
 * lib/spawn.ts, the one process-spawn helper of the activities and ingest: argv, env, user, group kill,
 * caps — the same cases for a process forked by this process (test/spawn.test.ts) and for one started
 * by a spawner, its pipes relayed over the spawner's channel (test/spawn-spawner.test.ts).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import test from 'ava';
import { lookupUser } from '../lib/isolation.js';
import { runProcess, startProcess } from '../lib/spawn.js';
import { alive, config, eventually } from './helpers.js';

const PATH = config.scriptEnv.PATH;
const runUser = process.getuid?.() === 0 && config.isolation.runAs ? lookupUser(config.isolation.runAs) : undefined;
// bash that ignores SIGTERM (and so does the sleep it starts: an ignored signal stays ignored across exec);
// it prints the sleep's pid once both ignore it.
const STUBBORN = ['bash', '-c', 'trap "" TERM; sleep 300 & echo $!; wait'];

/** Live processes of a process group (zombies count as gone). */
function groupMembers(pgid: number): number[] {
  return fs
    .readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return fields[0] !== 'Z' && Number(fields[2]) === pgid;
      } catch {
        return false;
      }
    })
    .map(Number);
}

export function spawnCases(mode: 'fork' | 'spawner'): void {
  test(`${mode}: argv is passed as is (no shell) and the environment is exactly the one given`, async (t) => {
    const r = await runProcess({ argv: ['printf', '%s|', '$(id)', 'a; touch /tmp/x', '`id`'], env: { PATH } });
    t.is(r.code, 0);
    t.is(r.stdout, '$(id)|a; touch /tmp/x|`id`|');
    const env = await runProcess({ argv: ['env'], env: { PATH, ONLY: 'this' } });
    const [marker, ...rest] = env.stdout.trim().split('\n').sort().reverse();
    t.deepEqual(rest.sort(), [`ONLY=this`, `PATH=${PATH}`]);
    t.regex(marker, new RegExp(`^STACKWIRE_LIFELINE=${process.pid}\\.\\d+\\.[0-9a-f]{12}$`), 'and the lifeline marker (lib/lifeline.ts)');
    const bare = await runProcess({ argv: ['env'], env: { PATH, ONLY: 'this' }, lifeline: false });
    t.deepEqual(bare.stdout.trim().split('\n').sort(), [`ONLY=this`, `PATH=${PATH}`]);
  });

  test(`${mode}: stdin, cwd and a failure to start`, async (t) => {
    const cat = await runProcess({ argv: ['cat'], env: { PATH }, stdin: 'from stdin' });
    t.is(cat.stdout, 'from stdin');
    const pwd = await runProcess({ argv: ['pwd'], env: { PATH }, cwd: os.tmpdir() });
    t.is(pwd.stdout.trim(), fs.realpathSync(os.tmpdir()));
    const missing = await runProcess({ argv: ['no-such-program-sw'], env: { PATH } });
    t.is(missing.spawnError?.code, 'ENOENT');
    t.is(missing.code, null);
  });

  test(`${mode}: output beyond the cap is counted, not kept: the last bytes remain`, async (t) => {
    const r = await runProcess({ argv: ['bash', '-c', 'head -c 100000 /dev/zero | tr "\\0" a; echo -n END'], env: { PATH }, captureBytes: 1000 });
    t.is(r.stdout.length, 1000);
    t.true(r.stdout.endsWith('END'));
    t.true(r.stdoutTruncated);
    t.false(r.stderrTruncated);
    let streamed = 0;
    await runProcess({ argv: ['head', '-c', '100000', '/dev/zero'], env: { PATH }, captureBytes: 0, onStdout: (b) => (streamed += b.length) });
    t.is(streamed, 100000, 'the stream callback sees everything');
  });

  test(`${mode}: a timeout stops the whole group`, async (t) => {
    const p = startProcess({ argv: ['bash', '-c', 'sleep 300 & sleep 300 & wait'], env: { PATH }, timeoutMs: 300, killGraceMs: 300 });
    t.truthy(await p.started);
    const r = await p.done;
    t.is(r.stoppedBy, 'timeout');
    t.not(r.code, 0);
    await eventually(() => groupMembers(p.pid!).length === 0, 'every process of the group to be gone', 10_000);
  });

  test(`${mode}: stopping sends SIGTERM, then SIGKILL to what ignores it`, async (t) => {
    let child: number | undefined;
    const p = startProcess({
      argv: STUBBORN,
      env: { PATH },
      killGraceMs: 300,
      onStdout: (b) => {
        child ??= Number(b.toString().trim());
        p.stop(); // both ignore SIGTERM by now
      },
    });
    const r = await p.done;
    t.is(r.stoppedBy, 'request');
    t.is(r.signal, 'SIGKILL');
    t.truthy(child);
    await eventually(() => !alive(child!), 'the sleep the script started to be gone', 10_000);
  });

  test(`${mode}: an abort signal stops the group; the leader exiting takes the rest of its group with it`, async (t) => {
    const ac = new AbortController();
    let child: number | undefined;
    const p = startProcess({
      argv: ['bash', '-c', 'sleep 300 & echo $!; wait'],
      env: { PATH },
      signal: ac.signal,
      onStdout: (b) => {
        child ??= Number(b.toString().trim());
        ac.abort();
      },
    });
    const r = await p.done;
    t.is(r.stoppedBy, 'abort');
    await eventually(() => !alive(child!), 'the sleep to be gone', 10_000);

    let orphan: number | undefined;
    const quick = await runProcess({
      argv: ['bash', '-c', 'sleep 300 >/dev/null 2>&1 & echo $!'],
      env: { PATH },
      onStdout: (b) => (orphan ??= Number(b.toString().trim())),
    });
    t.is(quick.code, 0);
    t.is(quick.stoppedBy, undefined);
    await eventually(() => !alive(orphan!), 'the background sleep of an exited script to be gone', 10_000);
  });

  test(`${mode}: as another user (uid/gid), with no supplementary groups, and still killed by group on timeout`, async (t) => {
    if (!runUser) {
      t.log('not root, or no run user: skipped');
      t.pass();
      return;
    }
    const id = await runProcess({ argv: ['id'], env: { PATH }, uid: runUser.uid, gid: runUser.gid, cwd: '/' });
    t.is(id.code, 0, id.stderr);
    t.regex(id.stdout, new RegExp(`^uid=${runUser.uid}\\(${runUser.name}\\) gid=${runUser.gid}\\([^)]+\\) groups=${runUser.gid}\\(`));
    let child: number | undefined;
    const p = startProcess({
      argv: STUBBORN,
      env: { PATH },
      uid: runUser.uid,
      gid: runUser.gid,
      cwd: '/',
      timeoutMs: 300,
      killGraceMs: 300,
      onStdout: (b) => (child ??= Number(b.toString().trim())),
    });
    const r = await p.done;
    t.is(r.stoppedBy, 'timeout');
    await eventually(() => groupMembers(p.pid!).length === 0, "every process of the run user's group to be gone", 10_000);
    if (child) t.false(alive(child));
  });

  test(`${mode}: every byte of a large output, in order, on both streams; a large stdin; the request channel on fd 3`, async (t) => {
    const seq = (n: number) => Array.from({ length: n }, (_, i) => `${i + 1}\n`).join('');
    const sha = (b: string | Buffer) => crypto.createHash('sha256').update(b).digest('hex');
    const out = crypto.createHash('sha256');
    const err = crypto.createHash('sha256');
    let outBytes = 0;
    // ~15 MB on stdout and ~3 MB on stderr at once: more than the spawner lets be on its way (1 MiB).
    const r = await runProcess({
      argv: ['bash', '-c', 'seq 1 500000 >&2 & seq 1 2000000; wait'],
      env: { PATH },
      captureBytes: 100,
      onStdout: (b) => {
        out.update(b);
        outBytes += b.length;
      },
      onStderr: (b) => err.update(b),
    });
    t.is(r.code, 0);
    t.is(outBytes, Buffer.byteLength(seq(2_000_000)));
    t.is(out.digest('hex'), sha(seq(2_000_000)));
    t.is(err.digest('hex'), sha(seq(500_000)));
    t.is(r.stdout, seq(2_000_000).slice(-100), 'the last bytes are kept');
    const input = crypto.randomBytes(3 * 1024 * 1024);
    const sum = await runProcess({ argv: ['sha256sum'], env: { PATH }, stdin: input });
    t.is(sum.stdout.split(' ')[0], sha(input));
    const asked: unknown[] = [];
    const chat = await runProcess({
      argv: ['bash', '-c', 'printf \'{"n":1}\\n\' >&3; read -r a <&3; printf \'{"n":2}\\n\' >&3; read -r b <&3; echo "$a $b"'],
      env: { PATH },
      channel: (req) => {
        asked.push(req);
        return Promise.resolve({ got: (req as { n: number }).n * 10 });
      },
    });
    t.is(chat.code, 0, chat.stderr);
    t.deepEqual(asked, [{ n: 1 }, { n: 2 }]);
    t.is(chat.stdout.trim(), '{"got":10} {"got":20}');
  });
}
