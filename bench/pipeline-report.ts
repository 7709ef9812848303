/** The text report of `npm run bench -- --only pipeline` (scripts/bench.ts measures; this says it). */

type Stat = { median: number; p95: number };

export interface PipelineBenchResult {
  iterations: number;
  steps: number;
  wallMs: Record<'stackwire' | 'idempotent' | 'raw' | 'rawLocal' | 'direct', Stat>;
  overheadPerStepMs: Record<'stackwire' | 'idempotent' | 'raw' | 'rawLocal', Stat>;
  oneStepWallMs: Record<'idempotent' | 'rawLocal', Stat>;
  marginalOverheadPerStepMs: Record<'idempotent' | 'rawLocal', number>;
  fanout: {
    items: number;
    concurrency: number;
    wallMs: Stat;
    idempotentWallMs: Stat;
    rawWallMs: Stat;
    rawLocalWallMs: Stat;
    idealMs: number;
    overIdeal: number;
    idempotentOverIdeal: number;
    rawOverIdeal: number;
    rawLocalOverIdeal: number;
  };
  ratios: Record<'stackwireOverRawWall' | 'stackwireOverRawOverhead' | 'stackwireOverDirectWall' | 'rawOverDirectWall', number>;
}

/** `file`: where the JSON was written, as shown. */
export function pipelineReport(result: PipelineBenchResult, file: string): string {
  return [
    `pipeline of ${result.steps} short scripts, ${result.iterations} iterations (medians; p95 in brackets)`,
    `  direct (no orchestration): ${result.wallMs.direct.median} ms`,
    `  raw Temporal workflow:     ${result.wallMs.raw.median} ms  → overhead ${result.overheadPerStepMs.raw.median} ms/step [p95 ${result.overheadPerStepMs.raw.p95}]`,
    `  raw, local activities:     ${result.wallMs.rawLocal.median} ms  → overhead ${result.overheadPerStepMs.rawLocal.median} ms/step [p95 ${result.overheadPerStepMs.rawLocal.p95}]`,
    `  Stackwire pipeline:        ${result.wallMs.stackwire.median} ms  → overhead ${result.overheadPerStepMs.stackwire.median} ms/step [p95 ${result.overheadPerStepMs.stackwire.p95}]`,
    `  … idempotent (local):      ${result.wallMs.idempotent.median} ms  → overhead ${result.overheadPerStepMs.idempotent.median} ms/step [p95 ${result.overheadPerStepMs.idempotent.p95}] (target ≤ 10)`,
    `  … a step's own overhead (10-step run − 1-step run, per step, less the script): idempotent ${result.marginalOverheadPerStepMs.idempotent} ms, raw local ${result.marginalOverheadPerStepMs.rawLocal} ms; a 1-step run: ${result.oneStepWallMs.idempotent.median} ms (raw local ${result.oneStepWallMs.rawLocal.median} ms)`,
    `  Stackwire / raw wall:      ${result.ratios.stackwireOverRawWall}× (target ≤ 1.2×); overhead ratio ${result.ratios.stackwireOverRawOverhead}×`,
    `  fan-out ${result.fanout.items} items, ${result.fanout.concurrency} at a time: ${result.fanout.wallMs.median} ms (raw Temporal ${result.fanout.rawWallMs.median} ms); ideal ${result.fanout.idealMs} ms → ${result.fanout.overIdeal}× (raw ${result.fanout.rawOverIdeal}×; target ≤ 1.3×)`,
    `  … idempotent items (local): ${result.fanout.idempotentWallMs.median} ms → ${result.fanout.idempotentOverIdeal}× (raw local activities ${result.fanout.rawLocalWallMs.median} ms → ${result.fanout.rawLocalOverIdeal}×; target ≤ 1.3×)`,
    `  Stackwire / direct wall:   ${result.ratios.stackwireOverDirectWall}×;  raw / direct: ${result.ratios.rawOverDirectWall}×`,
    `written to ${file}`,
    '',
  ].join('\n');
}
