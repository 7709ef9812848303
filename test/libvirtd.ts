/**
 * A libvirtd of the test's own (Debian's libvirt-daemon), run as an unprivileged user in a folder of its
 * own, serving libvirt's test driver: `test+unix:///default?socket=…`. The default test connection's
 * state is shared by every client of one daemon while any of them stays connected, so the test sees what
 * the worker did through a connection of its own — libvirt's word, not the worker's. The helper keeps
 * one `virsh` session open for as long as it runs, which keeps that state.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { eventually } from './helpers.js';

export interface Libvirtd {
  uri: string;
  /** One virsh command through a connection of the test's own; its stdout, trimmed. Throws with virsh's words. */
  virsh: (...words: string[]) => string;
  /** Defines and starts a domain of the test driver. */
  defineDomain: (name: string) => void;
  stop: () => void;
}

const USER = 'stackwire-run';

export async function startLibvirtd(): Promise<Libvirtd> {
  const id = (flag: string) => Number(spawnSync('id', [flag, USER], { encoding: 'utf8' }).stdout.trim());
  const uid = id('-u');
  const gid = id('-g');
  if (!Number.isInteger(uid) || uid <= 0) throw new Error(`the user ${USER} is missing (npm test creates it)`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stackwire-libvirtd-'));
  fs.chownSync(dir, uid, gid);
  const daemon: ChildProcess = spawn('/usr/sbin/libvirtd', [], {
    uid,
    gid,
    cwd: dir,
    env: {
      PATH: '/usr/sbin:/usr/bin:/bin',
      HOME: dir,
      XDG_RUNTIME_DIR: dir,
      XDG_CONFIG_HOME: path.join(dir, 'config'),
      XDG_CACHE_HOME: path.join(dir, 'cache'),
    },
    stdio: ['ignore', 'ignore', fs.openSync(path.join(dir, 'libvirtd.log'), 'w')],
  });
  const socket = path.join(dir, 'libvirt', 'libvirt-sock');
  const uri = `test+unix:///default?socket=${socket}`;
  const virsh = (...words: string[]) => {
    const r = spawnSync('virsh', ['-q', '-c', uri, ...words], { encoding: 'utf8', timeout: 30_000 });
    if (r.status !== 0) throw new Error(`virsh ${words.join(' ')}: ${(r.stderr || r.error?.message || `exit ${r.status}`).trim()}`);
    return r.stdout.trim();
  };
  await eventually(
    () => {
      if (daemon.exitCode !== null) throw new Error(`libvirtd ended: ${fs.readFileSync(path.join(dir, 'libvirtd.log'), 'utf8').slice(-500)}`);
      return fs.existsSync(socket) && spawnSync('virsh', ['-q', '-c', uri, 'list'], { timeout: 10_000 }).status === 0 ? true : undefined;
    },
    'libvirtd to serve',
    30_000,
  );
  // The connection that keeps the test driver's state while the test runs.
  const holder = spawn('virsh', ['-q', '-c', uri], { stdio: ['pipe', 'pipe', 'ignore'] });
  holder.stdin.on('error', () => undefined);
  let said = '';
  holder.stdout.on('data', (b: Buffer) => (said += b.toString('utf8')));
  // virsh connects before it reads its first command: an answer means the connection is up.
  holder.stdin.write('echo holder-connected\n');
  await eventually(() => (said.includes('holder-connected') ? true : undefined), 'the holding virsh connection', 30_000);
  return {
    uri,
    virsh,
    defineDomain: (name) => {
      const xml = path.join(dir, `${name}.xml`);
      fs.writeFileSync(xml, `<domain type='test'><name>${name}</name><memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>\n`);
      fs.chmodSync(xml, 0o644);
      virsh('define', xml);
      virsh('start', name);
    },
    stop: () => {
      holder.stdin.end('quit\n');
      holder.kill('SIGKILL');
      daemon.kill('SIGKILL'); // the test's own, holding nothing worth a clean shutdown (a SIGTERM once left one running)
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
