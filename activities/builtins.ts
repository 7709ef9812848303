/** Implementations of the built-in actions (lib/builtins.ts declares them in the catalog). */
import type { Pool } from '../db/pool.js';
import type { Config } from '../lib/config.js';
import { ingest, type IngestRequest } from '../ingest/ingest.js';
import { progressHeartbeat } from './ingest-pack.js';
import { looksLikeGitUrl } from '../common/validation.js';

export interface BuiltinContext {
  pool: Pool;
  scriptEnv: Record<string, string>;
  git: Config['git'];
  ingestPaths: string[];
  heartbeat: (details: unknown) => void;
  signal: AbortSignal;
}

export type Builtin = (params: Record<string, unknown>, ctx: BuiltinContext) => Promise<{ exitCode: number; stdout: string }>;

export const BUILTINS: Record<string, Builtin> = {
  'core.ingest': async (params, ctx) => {
    const src = String(params.source);
    const isGit = looksLikeGitUrl(src);
    const req: IngestRequest = {
      pack: String(params.pack),
      mode: (params.mode as IngestRequest['mode'] | undefined) ?? 'apply',
      source: isGit ? { kind: 'git', url: src, ...(typeof params.ref === 'string' ? { ref: params.ref } : {}) } : { kind: 'path', path: src },
    };
    const report = await ingest(
      { pool: ctx.pool, env: ctx.scriptEnv, git: ctx.git, ingestPaths: ctx.ingestPaths, progress: progressHeartbeat(ctx.heartbeat), signal: ctx.signal },
      req,
    );
    const { actions: _yaml, ...rest } = report;
    // A check that finds drift fails, so a pipeline or CI step stops on it.
    return { exitCode: req.mode === 'check' && report.drift ? 1 : 0, stdout: `${JSON.stringify(rest, null, 2)}\n` };
  },
};
