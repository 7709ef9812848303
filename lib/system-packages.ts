/**
 * Puppet (Debian's puppet-agent, for `puppet apply`) and the monitoring plugins (check_tcp,
 * check_http … that Sensu checks run) are installed by the set-up when missing: `apt-get install`
 * as root; elsewhere a clear error saying what to install.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';

export const PLUGIN_DIRS = ['/usr/lib/nagios/plugins', '/usr/lib/monitoring-plugins', '/usr/local/nagios/libexec'];
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

export function ensureSystemPackages(log: (m: string) => void, baseEnv: NodeJS.ProcessEnv): { puppet: string; plugins: string } {
  const missing: string[] = [];
  if (!puppetBinary()) missing.push('puppet-agent');
  if (!pluginDir()) missing.push('monitoring-plugins-basic');
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
