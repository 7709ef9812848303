/**
 * stackwire pipeline run|list|get|cancel|rerun|approve|reject: pipeline runs. `run` sends the pipeline
 * file with the other pipeline files of its folder (its sub-pipelines), then follows the run step by
 * step until it ends: exit 0 succeeded, 1 failed or cancelled, 2 invalid (nothing started).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import YAML from 'yaml';
import type { PipelineRunStartRequest, PipelineRunView } from '../../common/api-types.js';
import type { PipelineDef, StepResult } from '../../common/pipeline.js';
import { namedEnvValue } from '../../lib/config.js';
import { inputsFromPairs } from '../../lib/pipeline-inputs.js';
import { ApiRequestError, type ApiClient } from '../api-client.js';
import { barText } from '../progress.js';
import { ExitError, client, err, out, printJson, table } from '../shared.js';
import { pipelineFiles } from './pipeline.js';

const MARK: Record<string, string> = {
  succeeded: '✓',
  reused: '↺',
  failed: '✗',
  skipped: '–',
  cancelled: '■',
  waiting: '⏸',
  running: '▶',
  pending: '·',
};

function took(r: StepResult): string {
  if (!r.startedAt || !r.finishedAt) return '';
  const ms = Date.parse(r.finishedAt) - Date.parse(r.startedAt);
  return ms < 1000 ? ` (${ms} ms)` : ` (${(ms / 1000).toFixed(1)} s)`;
}

function stepLine(r: StepResult): string {
  const items = r.items ? ` [${r.items.succeeded}/${r.items.total} items${r.items.failed ? `, ${r.items.failed} failed` : ''}]` : '';
  const by = r.decidedBy ? ` by ${r.decidedBy}` : '';
  const why = r.error && r.status !== 'succeeded' ? `: ${r.error.split('\n')[0]}` : '';
  return `${MARK[r.status] ?? '?'} ${r.id} ${r.status}${by}${items}${took(r)}${why}`;
}

/** Prints the new output of the executions of action steps, each line after its step's id (`before` each print: the live line cleared). */
async function streamStepLogs(
  api: ApiClient,
  v: PipelineRunView,
  cursors: Map<string, { step: string; after: number; done: boolean }>,
  before: () => void,
): Promise<void> {
  for (const r of v.steps) {
    if (!r.executions || r.executions.length > 4) continue; // a fan-out's items are read with `execution logs`
    for (const e of r.executions)
      if (!cursors.has(e)) cursors.set(e, { step: r.executions.length > 1 ? `${r.id}@${e.slice(e.lastIndexOf('.') + 1)}` : r.id, after: 0, done: false });
  }
  for (const [e, c] of cursors) {
    if (c.done) continue;
    try {
      const page = await api.executionLogs(e, c.after, 0);
      for (const entry of page.entries) {
        const lines = entry.data.replace(/\n$/, '').split('\n');
        const text = lines.map((l) => `  ${c.step} | ${l}`).join('\n');
        before();
        if (entry.stream === 'stderr') err(text);
        else out(text);
      }
      c.after = page.next;
      c.done = page.done;
    } catch (e2) {
      if (!(e2 instanceof ApiRequestError && e2.status === 404)) throw e2; // not recorded yet: next time
    }
  }
}

/** How long a follow rides through 503s (Temporal or the run's region's worker not answering in time) before it gives up. */
const UNANSWERED_FOR_MS = 180_000;
const UNANSWERED_PAUSE_MS = 2_000;

/**
 * A running run's view. Its live state is a query its region's worker answers: a busy worker can miss
 * the API's deadline (503). The run goes on meanwhile, so this asks again, saying so once on stderr,
 * and gives up only when nothing has answered for UNANSWERED_FOR_MS.
 */
async function currentView(api: ApiClient, id: string, before: () => void): Promise<PipelineRunView> {
  let since: number | undefined;
  for (;;) {
    try {
      const v = await api.getPipelineRun(id);
      if (since !== undefined) {
        before();
        err(`${id}: answered again after ${Math.round((Date.now() - since) / 1000)} s`);
      }
      return v;
    } catch (e) {
      if (!(e instanceof ApiRequestError && e.status === 503)) throw e;
      if (since === undefined) {
        since = Date.now();
        before();
        err(`${id}: its state did not come in time (${e.message}); asking again — the run goes on meanwhile`);
      } else if (Date.now() - since > UNANSWERED_FOR_MS) {
        throw new ApiRequestError(
          503,
          e.code,
          `${e.message} No answer for ${UNANSWERED_FOR_MS / 1000} s; the run may still be going: \`stackwire pipeline get ${id}\` shows it later.`,
        );
      }
      await new Promise((r) => setTimeout(r, UNANSWERED_PAUSE_MS));
    }
  }
}

/** Follows a run until it ends, printing each step's changes (and its actions' output, unless quiet or logs are off); answers the final view. */
export async function follow(api: ApiClient, id: string, quiet: boolean, logs = true): Promise<PipelineRunView> {
  const seen = new Map<string, string>();
  const waitingShown = new Set<string>();
  const cursors = new Map<string, { step: string; after: number; done: boolean }>();
  // On a terminal, the running fan-outs' items as a bar on the last line (cleared before anything is
  // printed, drawn again after); elsewhere (a pipe, a CI log), a line each time a tenth more is done.
  const live = !quiet && process.stdout.isTTY === true && process.stderr.isTTY === true;
  let bar = '';
  const clearBar = () => {
    if (bar) process.stderr.write('\r\x1b[K');
    bar = '';
  };
  const most = new Map<string, { total: number; succeeded: number; failed: number }>();
  const counted = (step: string, items: { total: number; succeeded: number; failed: number }) => {
    const before = most.get(step);
    const now = before && before.succeeded + before.failed > items.succeeded + items.failed ? before : items;
    most.set(step, now);
    return now;
  };
  const say = (line: string) => {
    clearBar();
    out(line);
  };
  for (;;) {
    const v = await currentView(api, id, clearBar);
    if (!quiet && logs) await streamStepLogs(api, v, cursors, clearBar);
    for (const r of v.steps) {
      if (r.status === 'pending') continue;
      // Counts only grow: a view whose fan-out did not answer in time (its total alone) does not take them back.
      if (r.items) r.items = counted(r.id, r.items);
      const done = r.items ? r.items.succeeded + r.items.failed : 0;
      const fanOutRunning = r.status === 'running' && r.items;
      // A running fan-out is said when it starts, then (without a terminal) at each tenth of its items.
      const key = fanOutRunning ? `running|${live ? '' : Math.floor((done * 10) / Math.max(1, r.items!.total))}` : `${r.status}|${r.items?.succeeded ?? ''}`;
      if (seen.get(r.id) === key) continue;
      seen.set(r.id, key);
      if (!quiet) say(stepLine(r));
    }
    for (const w of v.waiting) {
      if (waitingShown.has(w.step) || quiet) continue;
      waitingShown.add(w.step);
      say(
        `  ${w.step} waits for approval${w.approvers.length ? ` by ${w.approvers.join(' or ')}` : ''} until ${w.deadline}${w.message ? `: ${w.message}` : ''}\n` +
          `  → stackwire pipeline approve ${id} ${w.step}   (or: pipeline reject ${id} ${w.step} --reason …)`,
      );
    }
    if (v.status !== 'running') {
      clearBar();
      return v;
    }
    if (live) {
      const fanOuts = v.steps.filter((r) => r.status === 'running' && r.items);
      const text = fanOuts
        .map((r) => `${r.id} ${barText(r.items!.succeeded + r.items!.failed, r.items!.total)} items${r.items!.failed ? ` (${r.items!.failed} failed)` : ''}`)
        .join(' · ');
      if (text !== bar) {
        process.stderr.write(`\r\x1b[K${text}`);
        bar = text;
      }
    }
    await new Promise((r) => setTimeout(r, 400));
  }
}

function summary(v: PipelineRunView): string {
  const outputs = Object.keys(v.outputs).length ? `\noutputs:\n${YAML.stringify(v.outputs).trimEnd().replace(/^/gm, '  ')}` : '';
  return `pipeline ${v.pipeline} ${v.status}: ${v.runId}${v.error ? `\n${v.error}` : ''}${outputs}`;
}

async function finish(api: ApiClient, id: string, opts: { json?: boolean; wait?: boolean; logs?: boolean }): Promise<void> {
  if (opts.wait === false) {
    if (opts.json) printJson({ id });
    else out(id);
    return;
  }
  const v = await follow(api, id, opts.json === true, opts.logs !== false);
  if (opts.json) printJson(v);
  else out(summary(v));
  process.exitCode = v.status === 'succeeded' ? 0 : 1;
}

/**
 * What to run, from the command line: a pipeline file (with the other pipeline files of its folder as
 * its sub-pipelines, inputs typed here), `pack:<name>`, or a component (the pipeline's name first,
 * inputs typed by the server). Shared by `pipeline run` and `schedule create`.
 */
export function runSource(target: string, rest: string[], ref: string | undefined): PipelineRunStartRequest {
  if (fs.existsSync(target)) {
    if (ref) throw new ExitError(2, '--ref is for a component (its repository); a file is run as it is on disk.');
    const [main] = pipelineFiles([target]);
    const siblings = pipelineFiles([path.dirname(target)]).filter((f) => path.resolve(f.path) !== path.resolve(main.path));
    let def: PipelineDef;
    try {
      def = YAML.parse(main.content) as PipelineDef;
    } catch (e) {
      throw new ExitError(2, `${target} is not YAML: ${(e as Error).message}; \`stackwire pipeline validate ${target}\` shows every problem.`);
    }
    const inputs = inputsFromPairs(def, rest);
    if (inputs.problems.length) throw new ExitError(2, `inputs of ${def.name}:\n${inputs.problems.map((p) => `  - ${p}`).join('\n')}`);
    return { files: [main, ...siblings], pipeline: def.name, inputs: inputs.values };
  }
  if (/[/\\]|\.ya?ml$/.test(target)) throw new ExitError(2, `${target}: no such file.`);
  const name = rest[0] !== undefined && !rest[0].includes('=') ? rest[0] : undefined;
  const pairs = name !== undefined ? rest.slice(1) : rest;
  const pack = /^pack:(.+)$/.exec(target)?.[1];
  if (pack !== undefined && ref) throw new ExitError(2, "--ref is for a component's repository; a pack is run as its current version holds it.");
  return { ...(pack !== undefined ? { pack } : { component: target }), ...(name ? { pipeline: name } : {}), ...(ref ? { ref } : {}), inputPairs: pairs };
}

export function registerPipelineRunCommands(pipeline: Command): void {
  pipeline
    .command('run')
    .description(
      "validate a pipeline and run it, following its steps until it ends (exit 0 succeeded, 1 failed, 2 invalid: nothing started). The pipeline is a file, a component whose repository holds .stackwire/pipelines/*.yml (read at --ref by a regional worker), or a pack's pipelines/*.yml",
    )
    .argument(
      '<file|component|pack:P>',
      'a pipeline file (the other *.yml files of its folder go along as sub-pipelines), a component of the source of truth, or pack:<name> (the pipelines/*.yml of a pack)',
    )
    .argument(
      '[name-and-inputs...]',
      "for a component or pack: the pipeline's name first (default: its first file); then inputs as key=value (lists and objects as JSON)",
    )
    .option('--ref <ref>', "branch, tag or commit of the component's repository (default: its default branch)")
    .option('--region <region>', 'region of steps that name none')
    .option(
      '--secret-env <NAME>',
      'give the run the secret NAME (${{ secrets.NAME }}) from the environment variable of that name; repeatable. Never on the command line: it would be in your shell history',
      (v: string, all: string[]) => [...all, v],
      [] as string[],
    )
    .option('--no-wait', 'print the run id and return')
    .option('--no-logs', "follow the steps without their actions' output")
    .option('--json', 'print the final state (or the id with --no-wait) as JSON')
    .action(
      async (
        target: string,
        rest: string[],
        opts: { ref?: string; region?: string; secretEnv: string[]; wait?: boolean; logs?: boolean; json?: boolean },
        cmd: Command,
      ) => {
        const api = client(cmd);
        const secrets: Record<string, string> = {};
        for (const name of opts.secretEnv) {
          const v = namedEnvValue(name);
          if (v === undefined) throw new ExitError(2, `--secret-env ${name}: the environment variable ${name} is not set.`);
          secrets[name] = v;
        }
        const common = { trigger: 'cli', ...(opts.region ? { region: opts.region } : {}), ...(opts.secretEnv.length ? { secrets } : {}) };
        const started = await api.startPipelineRun({ ...runSource(target, rest, opts.ref), ...common });
        if (!opts.json && opts.wait !== false) out(`started ${started.id}: ${started.steps.length} steps`);
        await finish(api, started.id, opts);
      },
    );

  pipeline
    .command('list')
    .description('recent pipeline runs, newest first')
    .option('--pipeline <name>', 'only runs of this pipeline')
    .option('--limit <n>', 'at most this many', '20')
    .option('--json', 'print as JSON')
    .action(async (opts: { pipeline?: string; limit: string; json?: boolean }, cmd: Command) => {
      const r = await client(cmd).listPipelineRuns(opts.pipeline, Number(opts.limit));
      if (opts.json) return printJson(r);
      if (!r.runs.length) return out('no pipeline runs');
      out(table([['ID', 'PIPELINE', 'STATUS', 'ACTOR', 'STARTED'], ...r.runs.map((x) => [x.id, x.pipeline, x.status, x.actor, x.startedAt])]));
    });

  pipeline
    .command('get')
    .description('a pipeline run: every step with status, timing and outputs')
    .argument('<id>', 'run id')
    .option('--json', 'print as JSON')
    .action(async (id: string, opts: { json?: boolean }, cmd: Command) => {
      const v = await client(cmd).getPipelineRun(id);
      if (opts.json) return printJson(v);
      for (const r of v.steps) out(stepLine(r) + (Object.keys(r.outputs).length ? `\n    outputs: ${JSON.stringify(r.outputs).slice(0, 300)}` : ''));
      out(summary(v));
    });

  pipeline
    .command('watch')
    .description(
      'follow a run started elsewhere (--no-wait, a schedule, a webhook, a rule, another operator) step by step until it ends; exit 0 succeeded, 1 failed or cancelled, 2 no such run',
    )
    .argument('<id>', 'run id')
    .option('--no-logs', "follow the steps without their actions' output")
    .option('--json', 'print the final state as JSON')
    .action(async (id: string, opts: { logs?: boolean; json?: boolean }, cmd: Command) => {
      await finish(client(cmd), id, opts);
    });

  pipeline
    .command('cancel')
    .description('cancel a pipeline run (running steps are stopped)')
    .argument('<id>', 'run id')
    .option('--json', 'print as JSON')
    .action(async (id: string, opts: { json?: boolean }, cmd: Command) => {
      const r = await client(cmd).cancelPipelineRun(id);
      if (opts.json) return printJson(r);
      out(`cancel requested: ${id}`);
    });

  pipeline
    .command('rerun')
    .description('run a pipeline again from a step: that step and those depending on it run; the others keep their recorded outputs')
    .argument('<id>', 'the earlier run')
    .requiredOption('--from <step>', 'the step to start from')
    .option('--no-wait', 'print the new run id and return')
    .option('--no-logs', "follow the steps without their actions' output")
    .option('--json', 'print as JSON')
    .action(async (id: string, opts: { from: string; wait?: boolean; logs?: boolean; json?: boolean }, cmd: Command) => {
      const api = client(cmd);
      const r = await api.rerunPipeline(id, opts.from);
      if (!opts.json && opts.wait !== false) out(`started ${r.id} from ${opts.from}; reusing ${r.reused.join(', ') || 'nothing'}`);
      await finish(api, r.id, opts);
    });

  for (const [name, approve] of [
    ['approve', true],
    ['reject', false],
  ] as const) {
    pipeline
      .command(name)
      .description(`${name} a pipeline's approval step that is waiting (not in your own runs)`)
      .argument('<id>', 'run id')
      .argument('<step>', 'the approval step')
      .option('--reason <text>', 'why (kept with the decision)')
      .option('--json', 'print as JSON')
      .action(async (id: string, step: string, opts: { reason?: string; json?: boolean }, cmd: Command) => {
        const r = await client(cmd).decidePipelineStep(id, { step, approve, ...(opts.reason ? { reason: opts.reason } : {}) });
        if (opts.json) return printJson(r);
        out(`${step} of ${id}: ${r.approved ? 'approved' : 'rejected'} by ${r.decidedBy}`);
      });
  }
}
