/**
 * git on a worker (ingest of a git URL, `release --since`), under the configured source policy: the
 * URL is checked first (common/git-url.ts), and git itself is held to it too — GIT_ALLOW_PROTOCOL
 * (https, ssh, and file only when allowed; this also covers redirects and submodules),
 * protocol.ext.allow=never, no system or global git configuration (GIT_CONFIG_NOSYSTEM, an empty HOME
 * of its own), no prompts, ssh in batch mode. Every command has a timeout (STACKWIRE_GIT_TIMEOUT) after
 * which its process group is killed.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gitAllowProtocol, gitUrlProblem } from '../common/git-url.js';
import type { Config } from './config.js';
import { runProcess, type ProcessResult } from './spawn.js';

export class GitError extends Error {
  override name = 'GitError';
}

export interface GitContext {
  policy: Config['git'];
  /** PATH, LANG, TZ (Config.scriptEnv). */
  baseEnv: Record<string, string>;
  /** An empty folder used as HOME: no ~/.gitconfig, no credential helpers of the worker's user. */
  home: string;
  signal?: AbortSignal | undefined;
}

export function gitEnv(ctx: Pick<GitContext, 'policy' | 'baseEnv' | 'home'>): Record<string, string> {
  return {
    ...ctx.baseEnv,
    HOME: ctx.home,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    GIT_ALLOW_PROTOCOL: gitAllowProtocol(ctx.policy),
    // A fixed string (git runs it with sh): never a prompt, never a hang on an unreachable host.
    GIT_SSH_COMMAND: 'ssh -o BatchMode=yes -o ConnectTimeout=30',
  };
}

function lastLines(s: string): string {
  return s.trim().split('\n').slice(-3).join(' ');
}

/** Runs `git <args>` (argv, no shell); throws a GitError naming what failed, a timeout or a cancellation. */
export async function git(ctx: GitContext, args: string[], cwd?: string): Promise<string> {
  const r: ProcessResult = await runProcess({
    argv: ['git', '-c', 'protocol.ext.allow=never', ...args],
    env: gitEnv(ctx),
    ...(cwd ? { cwd } : {}),
    timeoutMs: ctx.policy.timeoutSeconds * 1000,
    killGraceMs: 2000,
    ...(ctx.signal ? { signal: ctx.signal } : {}),
  });
  const what = `git ${args.find((a) => !a.startsWith('-')) ?? ''}`.trim();
  if (r.spawnError) throw new GitError(`cannot run git: ${r.spawnError.message}. Install git on the worker.`);
  if (r.stoppedBy === 'timeout') throw new GitError(`${what} did not finish within ${ctx.policy.timeoutSeconds} s (STACKWIRE_GIT_TIMEOUT) and was stopped`);
  if (r.stoppedBy) throw new GitError(`${what} was cancelled`);
  if (r.code !== 0) throw new GitError(`${what} failed (exit ${r.code ?? r.signal}): ${lastLines(r.stderr)}`);
  return r.stdout.trim();
}

/** Clones an allowed URL into dest (which must not exist); the URL is checked against the policy first. */
export async function cloneRepository(
  ctx: GitContext,
  url: string,
  dest: string,
  opts: { ref?: string | undefined; depth?: number; bare?: boolean } = {},
): Promise<void> {
  const problem = gitUrlProblem(url, ctx.policy);
  if (problem) throw new GitError(problem);
  if (opts.ref !== undefined && opts.ref.startsWith('-')) throw new GitError('a git ref may not start with "-"');
  await git(ctx, [
    'clone',
    '--quiet',
    '--no-local', // a local path goes through the file transport too, so GIT_ALLOW_PROTOCOL applies
    ...(opts.bare ? ['--bare'] : []),
    ...(opts.depth ? ['--depth', String(opts.depth)] : []),
    ...(opts.ref ? ['--branch', opts.ref] : []),
    '--',
    url,
    dest,
  ]);
}

/**
 * A scratch folder for one git source: an empty HOME (no user config, no credential helpers) and the
 * path for a bare clone, handed to `fn`, removed afterwards whatever happens.
 */
export async function withGitScratch<T>(prefix: string, base: Omit<GitContext, 'home'>, fn: (g: GitContext, repo: string) => Promise<T>): Promise<T> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const home = path.join(dir, 'home');
  fs.mkdirSync(home);
  try {
    return await fn({ ...base, home }, path.join(dir, 'repo.git'));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
