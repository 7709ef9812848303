/**
 * Pipeline files from a component's repository at a ref: `.stackwire/pipelines/*.yml` as they are at
 * that commit, read by a regional worker (which holds the git policy and network reach), never by the API.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Config } from '../lib/config.js';
import { GitError, cloneRepository, git, withGitScratch, type GitContext } from '../lib/git.js';

export const PIPELINE_DIR = '.stackwire/pipelines';
const MAX_FILES = 100;
const MAX_BYTES = 1024 * 1024;

export interface PipelineSourceInput {
  repository: string;
  /** A branch, tag or commit; default: the repository's default branch. */
  ref?: string;
}

export interface PipelineSourceResult {
  commit: string;
  files: { path: string; content: string }[];
}

export async function readAt(g: GitContext, repo: string, input: PipelineSourceInput): Promise<PipelineSourceResult> {
  try {
    await cloneRepository(g, input.repository, repo, { bare: true });
  } catch (err) {
    if (err instanceof GitError) throw ApplicationFailure.nonRetryable(`cannot read ${input.repository}: ${err.message}`, 'GitSourceRefused');
    throw err;
  }
  const rev = input.ref ?? 'HEAD';
  const commit = await git(g, ['--git-dir', repo, 'rev-parse', '--verify', '--quiet', `${rev}^{commit}`]).then(
    (s) => s.trim(),
    () => undefined,
  );
  if (!commit) throw ApplicationFailure.nonRetryable(`${input.repository} has no branch, tag or commit ${JSON.stringify(rev)}`, 'UnknownRef');
  const listed = await git(g, ['--git-dir', repo, 'ls-tree', '--name-only', `${commit}:${PIPELINE_DIR}`]).catch(() => '');
  const names = listed
    .split('\n')
    .filter((n) => /\.ya?ml$/.test(n))
    .sort();
  if (!names.length)
    throw ApplicationFailure.nonRetryable(`${input.repository} at ${commit.slice(0, 12)} has no pipeline files (${PIPELINE_DIR}/*.yml)`, 'NoPipelines');
  if (names.length > MAX_FILES) throw ApplicationFailure.nonRetryable(`${PIPELINE_DIR} holds ${names.length} files; at most ${MAX_FILES}`, 'TooManyPipelines');
  const files: PipelineSourceResult['files'] = [];
  for (const n of names) {
    const content = await git(g, ['--git-dir', repo, 'show', `${commit}:${PIPELINE_DIR}/${n}`]);
    if (Buffer.byteLength(content) > MAX_BYTES) throw ApplicationFailure.nonRetryable(`${PIPELINE_DIR}/${n} is over 1 MB`, 'PipelineTooLarge');
    files.push({ path: `${PIPELINE_DIR}/${n}`, content });
  }
  return { commit, files };
}

export function createPipelineSourceActivities(deps: { git: Config['git']; scriptEnv: Record<string, string> }) {
  return {
    async readPipelineFiles(input: PipelineSourceInput): Promise<PipelineSourceResult> {
      const ctx = Context.current();
      if (input.ref !== undefined && !/^[\w][\w./@^~-]{0,199}$/.test(input.ref))
        throw ApplicationFailure.nonRetryable(`ref ${JSON.stringify(input.ref)} is not a branch, tag or commit name`, 'BadRef');
      const beat = setInterval(() => ctx.heartbeat(), 1000);
      try {
        return await withGitScratch('stackwire-pipelines-', { policy: deps.git, baseEnv: deps.scriptEnv, signal: ctx.cancellationSignal }, (g, repo) =>
          readAt(g, repo, input),
        );
      } finally {
        clearInterval(beat);
      }
    },
  };
}
