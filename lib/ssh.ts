/**
 * Runs a program on a bare-metal host over SSH with the OpenSSH client: strict host key checking
 * against the known hosts given (never a user's own files), key authentication only, no ssh config
 * (`-F /dev/null`), the host after `--`.
 *
 * Nothing of the run becomes shell text. The command SSH hands to the host's shell is a constant
 * (REMOTE_COMMAND); the run travels on the connection's input as a gzipped tar bundle: the constant
 * bootstrap runners/remote-run.sh, the program's argv and environment as base64 lines, and its files
 * (the action's pack, a puppet run's manifest and Hiera data). The bootstrap unpacks into a new
 * mktemp folder, runs the argv in a session of its own, removes the folder at the end, and stops the
 * program when the connection's input ends — the client stopped by a cancellation, a timeout or the
 * worker's death — so no orphan is left on the host.
 *
 * The host needs sh, mktemp, head, tar with gzip, base64 and cat (GNU coreutils; setsid when present).
 */
import fs from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from './config.js';
import { runProcess } from './spawn.js';

export interface SshTarget {
  host: string;
  port: number;
  user: string;
  /** The private key, in clear (opened from the sealed store on the worker). */
  privateKey: string;
  /** known_hosts lines: the only keys the host may present. */
  knownHosts: string;
}

/** Host names and IPv4 addresses, as the source of truth accepts them; never an option. */
const HOST = /^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})$/;
const USER = /^[a-z_][a-z0-9_.-]{0,31}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The largest bundle sent (a pack with its files); a bigger one is refused before connecting. */
export const MAX_BUNDLE_BYTES = 256 * 1024 * 1024;

/** Exit code of the bootstrap when the run could not be set up on the host. */
export const REMOTE_SETUP_FAILED = 96;

/**
 * What the host's shell runs: a constant. It reads the bundle's length, unpacks that many bytes into a
 * new private folder and hands over to the bootstrap in it, with the connection as its input.
 */
export const REMOTE_COMMAND =
  'umask 077; IFS= read -r n || exit 96; case $n in ""|*[!0-9]*) echo "stackwire: no run bundle on the connection" >&2; exit 96;; esac; ' +
  'd=$(mktemp -d) || exit 96; head -c "$n" | tar -xzf - --no-same-owner -C "$d" || { echo "stackwire: cannot unpack the run (tar, gzip)" >&2; rm -rf "$d"; exit 96; }; ' +
  'exec sh "$d/run.sh" "$d"';

/** Paths in argv that start with this are the run's folder on the host. */
export const RUN_DIR_TOKEN = '@RUN@';

const base64Lines = (values: string[]) => values.map((v) => Buffer.from(v, 'utf8').toString('base64') + '\n').join('');

/** The ssh client's argv: its files (key, known hosts) are in `dir`, which the caller made and owns. */
export function sshArgv(target: SshTarget, dir: string): string[] {
  if (!HOST.test(target.host)) throw new Error(`${JSON.stringify(target.host)} is not a host name or IPv4 address`);
  if (!USER.test(target.user)) throw new Error(`${JSON.stringify(target.user)} is not a user name`);
  if (!Number.isInteger(target.port) || target.port < 1 || target.port > 65535) throw new Error(`port ${target.port} is not 1–65535`);
  return [
    'ssh',
    '-F',
    '/dev/null',
    '-T',
    '-o',
    'BatchMode=yes',
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    `UserKnownHostsFile=${path.join(dir, 'known_hosts')}`,
    '-o',
    'GlobalKnownHostsFile=/dev/null',
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    'PasswordAuthentication=no',
    '-o',
    'KbdInteractiveAuthentication=no',
    '-o',
    'ConnectTimeout=15',
    '-o',
    'ServerAliveInterval=15',
    '-o',
    'ServerAliveCountMax=4',
    '-i',
    path.join(dir, 'id'),
    '-p',
    String(target.port),
    '-l',
    target.user,
    '--',
    target.host,
    REMOTE_COMMAND,
  ];
}

/** Writes the client's key and known hosts into `dir` (0600, owned by `owner` when given: ssh reads them as that user). */
export function writeSshFiles(target: SshTarget, dir: string, owner?: { uid: number; gid: number }): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const files: [string, string][] = [
    ['id', target.privateKey.trim() + '\n'],
    ['known_hosts', target.knownHosts.trim() + '\n'],
  ];
  for (const [name, content] of files) {
    const file = path.join(dir, name);
    fs.writeFileSync(file, content, { mode: 0o600 });
    if (owner) fs.chownSync(file, owner.uid, owner.gid);
  }
  if (owner) fs.chownSync(dir, owner.uid, owner.gid);
}

/**
 * The bundle for the connection's input: `<length>\n` then a gzipped tar of `stage` after the
 * bootstrap and the argv and env files are written into it. `stage` holds the run's other files
 * (pack/, site.pp …); argv entries starting with @RUN@/ are paths in the run's folder on the host.
 */
export async function remoteBundle(
  stage: string,
  argv: string[],
  env: Record<string, string>,
  /** tar's environment here (PATH …). */
  toolEnv: Record<string, string>,
  signal?: AbortSignal,
): Promise<Buffer> {
  for (const k of Object.keys(env)) if (!ENV_NAME.test(k)) throw new Error(`${JSON.stringify(k)} is not an environment variable name`);
  if (!argv.length) throw new Error('nothing to run');
  fs.copyFileSync(path.join(PROJECT_ROOT, 'runners', 'remote-run.sh'), path.join(stage, 'run.sh'));
  fs.writeFileSync(path.join(stage, 'argv'), base64Lines(argv));
  fs.writeFileSync(path.join(stage, 'env'), base64Lines(Object.entries(env).map(([k, v]) => `${k}=${v}`)));
  const file = `${stage}.tgz`;
  try {
    const r = await runProcess({
      argv: ['tar', '-czf', file, '-C', stage, '.'],
      env: { ...toolEnv, LC_ALL: 'C' },
      captureBytes: 4096,
      ...(signal ? { signal } : {}),
    });
    if (r.code !== 0) throw new Error(`cannot bundle the run: tar ${r.spawnError?.message ?? `exit ${r.code}: ${r.stderr.trim()}`}`);
    const size = fs.statSync(file).size;
    if (size > MAX_BUNDLE_BYTES)
      throw new Error(`the run's bundle is ${(size / 1048576).toFixed(0)} MiB, more than ${MAX_BUNDLE_BYTES / 1048576} MiB: keep large files out of the pack`);
    const tgz = fs.readFileSync(file);
    return Buffer.concat([Buffer.from(`${tgz.length}\n`), tgz]);
  } finally {
    fs.rmSync(file, { force: true });
  }
}

/** Why an ssh run ended with 255 (OpenSSH's own failures), with what to do; undefined: not SSH's. */
export function sshFailure(
  stderr: string,
  target: Pick<SshTarget, 'host' | 'port' | 'user'>,
): { type: string; message: string; retryable: boolean } | undefined {
  const at = `${target.user}@${target.host}:${target.port}`;
  const keyscan = `ssh-keyscan -p ${target.port} ${target.host}`;
  if (/Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED|No .* host key is known/i.test(stderr))
    return {
      type: 'HostKeyRefused',
      message: `${at}: the host's key is not in the component's known_hosts (source of truth), so nothing ran there; check the host, then put its line (${keyscan}) in known_hosts`,
      retryable: false,
    };
  if (/Permission denied/.test(stderr))
    return {
      type: 'SshAuthFailed',
      message: `${at}: the host refused the key (Permission denied); add the public key of ssh_key's secret to ~${target.user}/.ssh/authorized_keys there`,
      retryable: false,
    };
  if (
    /Could not resolve hostname|Connection refused|Connection timed out|No route to host|Network is unreachable|Connection closed|Connection reset|Broken pipe|Timeout, server/i.test(
      stderr,
    )
  )
    return { type: 'SshUnreachable', message: `${at}: cannot reach the host: ${lastLine(stderr)}`, retryable: true };
  return undefined;
}

function lastLine(s: string): string {
  const lines = s.trim().split('\n');
  return (lines[lines.length - 1] ?? '').slice(0, 300);
}
