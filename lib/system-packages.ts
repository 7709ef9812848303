/**
 * Puppet (Debian's puppet-agent, for `puppet apply`) and the monitoring plugins (check_tcp,
 * check_http … that Sensu checks run) are installed by the set-up when missing: `apt-get install`
 * as root; elsewhere a clear error saying what to install. As root, the unprivileged user scripts run
 * as (stackwire-run) is created too when missing. Debian's python3-venv too, for StackStorm packs'
 * Python environments.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import type { Config } from './config.js';
import { DEFAULT_RUN_USER, lookupUser } from './isolation.js';
import { nftBinary } from './network-fence.js';

export const PLUGIN_DIRS = ['/usr/lib/nagios/plugins', '/usr/lib/monitoring-plugins', '/usr/local/nagios/libexec'];
export const CHROMIUM = '/usr/bin/chromium';
const PUPPET_PATHS = ['/usr/bin/puppet', '/opt/puppetlabs/bin/puppet'];

export function puppetBinary(): string | undefined {
  return PUPPET_PATHS.find((p) => fs.existsSync(p));
}

export function pluginDir(): string | undefined {
  return PLUGIN_DIRS.find((d) => fs.existsSync(`${d}/check_tcp`));
}

export class SystemPackageError extends Error {
  override name = 'SystemPackageError';
}

export function ensureSystemPackages(
  log: (m: string) => void,
  baseEnv: NodeJS.ProcessEnv,
  isolation?: Config['isolation'],
  /** Also what only the tests use: Debian's Chromium (the Web UI browser test), openssh-server (a loopback sshd for the SSH runner's test), libvirt-clients and libvirt-daemon (KVM legs against libvirt's test driver). */
  browser = false,
): { puppet: string; plugins: string } {
  if (isolation) ensureRunUser(isolation, log);
  const missing: string[] = [];
  if (browser && !fs.existsSync(CHROMIUM)) missing.push('chromium');
  if (browser && !fs.existsSync('/usr/sbin/sshd')) missing.push('openssh-server');
  // KVM legs drive libvirt with virsh; the tests use libvirt's test driver (test:///default), which is in the client library.
  if (browser && !fs.existsSync('/usr/bin/virsh')) missing.push('libvirt-clients');
  // ... and a libvirtd of the tests' own, so that the test looks at the same libvirt state as the worker, through a connection of its own.
  if (browser && !fs.existsSync('/usr/sbin/libvirtd')) missing.push('libvirt-daemon');
  // StackStorm remote-shell actions run over OpenSSH's client.
  if (!fs.existsSync('/usr/bin/ssh')) missing.push('openssh-client');
  if (!puppetBinary()) missing.push('puppet-agent');
  if (!pluginDir()) missing.push('monitoring-plugins-basic');
  // StackStorm packs' Python environments (lib/pack-venv.ts): Debian's python3 needs its venv module (and ensurepip).
  if (fs.existsSync('/usr/bin/python3') && spawnSync('/usr/bin/python3', ['-c', 'import ensurepip, venv'], { stdio: 'ignore' }).status !== 0)
    missing.push('python3-venv');
  // nft: a worker running scripts as an unprivileged user fences them off the database and Temporal.
  if (process.getuid?.() === 0 && !nftBinary()) missing.push('nftables');
  if (missing.length) {
    const root = os.userInfo().uid === 0;
    const apt = fs.existsSync('/usr/bin/apt-get');
    if (!root || !apt) {
      throw new SystemPackageError(
        `missing ${missing.join(' and ')} (for puppet apply and the health checks). Install them, e.g. 'sudo apt-get install ${missing.join(' ')}', then start again.`,
      );
    }
    log(`system: installing ${missing.join(', ')} with apt-get (about 10 s) …`);
    const env = { ...baseEnv, DEBIAN_FRONTEND: 'noninteractive' };
    let r = spawnSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...missing], { env, encoding: 'utf8' });
    if (r.status !== 0) {
      spawnSync('apt-get', ['update', '-q'], { env, encoding: 'utf8' });
      r = spawnSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...missing], { env, encoding: 'utf8' });
    }
    if (r.status !== 0)
      throw new SystemPackageError(`apt-get install ${missing.join(' ')} failed: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' ')}`);
  }
  return { puppet: puppetBinary()!, plugins: pluginDir()! };
}

/** Creates the run user when the setup (npm start, npm test) runs as root and the default user is missing. Idempotent. */
export function ensureRunUser(isolation: Config['isolation'], log: (m: string) => void): void {
  if (os.userInfo().uid !== 0 || isolation.runAs !== DEFAULT_RUN_USER || lookupUser(DEFAULT_RUN_USER)) return;
  log(`system: creating the user ${DEFAULT_RUN_USER} that scripts run as`);
  const r = spawnSync('useradd', ['--system', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', DEFAULT_RUN_USER], {
    encoding: 'utf8',
  });
  // 9: it exists (another set-up created it in the meantime).
  if (r.status !== 0 && r.status !== 9)
    throw new SystemPackageError(
      `useradd ${DEFAULT_RUN_USER} failed: ${(r.stderr || r.error?.message || `exit ${r.status}`).trim()}. Create the user yourself, then start again.`,
    );
}
