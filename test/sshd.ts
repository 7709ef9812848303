/** A loopback sshd for tests of runs over SSH (StackStorm remote runners, bare-metal deploy legs). */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { eventually } from './helpers.js';

/** A loopback sshd (Debian's openssh-server) with a test user and key: the real SSH server the remote runner reaches. */
export async function startSshd(): Promise<{ port: number; clientKey: string; knownHosts: string; otherKnownHosts: string; user: string; stop: () => void }> {
  const user = 'stackwire-sshtest';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stackwire-sshd-'));
  fs.chmodSync(dir, 0o755);
  const run = (argv: string[]) => {
    const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  // Test files run in parallel: another one may create the user at the same moment.
  if (
    spawnSync('id', [user]).status !== 0 &&
    spawnSync('useradd', ['--system', '--create-home', '--home-dir', `/home/${user}`, '--shell', '/bin/sh', user]).status !== 0
  )
    run(['id', user]);
  run(['usermod', '-p', '*', user]); // not locked (sshd refuses a locked account), and no password
  run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'host_key')]);
  run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'other_host_key')]);
  run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'client_key')]);
  fs.copyFileSync(path.join(dir, 'client_key.pub'), path.join(dir, 'authorized_keys'));
  fs.chmodSync(path.join(dir, 'authorized_keys'), 0o644);
  const port = await new Promise<number>((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(p));
    });
  });
  fs.writeFileSync(
    path.join(dir, 'sshd_config'),
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${path.join(dir, 'host_key')}`,
      `PidFile ${path.join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no',
      'PermitRootLogin no',
      `AllowUsers ${user}`,
      '',
    ].join('\n'),
  );
  fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const proc = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', path.join(dir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr.on('data', (b: Buffer) => (log += b.toString()));
  await eventually(
    () =>
      new Promise<true | undefined>((resolve) => {
        const c = net.connect(port, '127.0.0.1', () => {
          c.destroy();
          resolve(true);
        });
        c.on('error', () => resolve(undefined));
      }),
    `the loopback sshd on port ${port} (${log})`,
  );
  const line = (pub: string) => `[127.0.0.1]:${port} ${fs.readFileSync(path.join(dir, pub), 'utf8').trim().split(' ').slice(0, 2).join(' ')}`;
  return {
    port,
    user,
    clientKey: fs.readFileSync(path.join(dir, 'client_key'), 'utf8'),
    knownHosts: line('host_key.pub'),
    otherKnownHosts: line('other_host_key.pub'),
    stop: () => {
      proc.kill('SIGTERM');
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
