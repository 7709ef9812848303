/** stackwire schedule create|list|pause|unpause|trigger|delete: pipeline runs on a cron or an interval (Temporal Schedules). */
import type { Command } from 'commander';
import type { ScheduleCreateRequest } from '../../common/api-types.js';
import { ExitError, client, out, printJson, table } from '../shared.js';
import { runSource } from './pipeline-run.js';

const OVERLAPS = ['skip', 'buffer-one', 'buffer-all', 'cancel-other', 'terminate-other', 'allow-all'] as const;

export function registerScheduleCommands(program: Command): void {
  const schedule = program.command('schedule').description('pipeline runs on a cron or an interval (Temporal Schedules, in the Web UI under Schedules)');
  schedule
    .command('create')
    .description('schedule a pipeline (a file, pack:<name> or a component), validated and pinned now; admin')
    .argument('<name>', 'the schedule: lower-case letters, digits and dashes')
    .argument('<file|component|pack:P>', 'what to run, as for `pipeline run`')
    .argument('[name-and-inputs...]', "for a component or pack: the pipeline's name first; then inputs as key=value")
    .option('--cron <expr>', 'a cron expression, e.g. "0 3 * * *" (repeatable)', (v: string, all: string[]) => [...all, v], [] as string[])
    .option('--every <interval>', 'an interval instead: 30s, 15m, 1h …')
    .option('--ref <ref>', "branch, tag or commit of the component's repository, read now")
    .option('--region <region>', 'region of steps that name none')
    .option('--overlap <policy>', `when the last run is still going: ${OVERLAPS.join(', ')}`, 'skip')
    .option('--catchup <window>', 'how far back missed firings are run after an outage, e.g. 10m')
    .option('--paused', 'create it paused')
    .option('--note <text>', 'shown with the schedule')
    .option('--json', 'print as JSON')
    .action(
      async (
        name: string,
        target: string,
        rest: string[],
        opts: {
          cron: string[];
          every?: string;
          ref?: string;
          region?: string;
          overlap: string;
          catchup?: string;
          paused?: boolean;
          note?: string;
          json?: boolean;
        },
        cmd: Command,
      ) => {
        if (opts.cron.length > 0 === (opts.every !== undefined)) throw new ExitError(2, 'give --cron (one or more) or --every, not both and not neither.');
        if (!(OVERLAPS as readonly string[]).includes(opts.overlap)) throw new ExitError(2, `--overlap ${opts.overlap}: use one of ${OVERLAPS.join(', ')}.`);
        const req: ScheduleCreateRequest = {
          name,
          ...(opts.cron.length ? { cron: opts.cron } : { every: opts.every! }),
          run: { ...runSource(target, rest, opts.ref), ...(opts.region ? { region: opts.region } : {}) },
          overlap: opts.overlap as ScheduleCreateRequest['overlap'],
          ...(opts.catchup ? { catchupWindow: opts.catchup } : {}),
          ...(opts.paused ? { paused: true } : {}),
          ...(opts.note ? { note: opts.note } : {}),
        };
        const r = await client(cmd).createSchedule(req);
        if (opts.json) return printJson(r);
        out(`schedule ${r.name} created: pipeline ${r.pipeline}, ${opts.cron.length ? `cron ${opts.cron.join(' | ')}` : `every ${opts.every}`}`);
      },
    );
  schedule
    .command('list')
    .description('schedules: what they run, when, paused or not, their last and next runs')
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const r = await client(cmd).listSchedules();
      if (opts.json) return printJson(r);
      if (!r.schedules.length) return out('no schedules');
      out(
        table([
          ['NAME', 'PIPELINE', 'WHEN', 'PAUSED', 'LAST RUN', 'NEXT RUN'],
          ...r.schedules.map((s) => [
            s.name,
            s.pipeline,
            [...s.cron, ...s.every.map((e) => `every ${e}`)].join(' | '),
            s.paused ? 'yes' : 'no',
            s.recentRuns.at(-1)?.at ?? '',
            s.nextRuns[0] ?? '',
          ]),
        ]),
      );
    });
  for (const op of ['pause', 'unpause', 'trigger', 'delete'] as const) {
    schedule
      .command(op)
      .description(
        {
          pause: 'pause a schedule',
          unpause: 'unpause a schedule',
          trigger: 'run a schedule once now',
          delete: 'delete a schedule (runs already started go on)',
        }[op],
      )
      .argument('<name>')
      .option('--json', 'print as JSON')
      .action(async (name: string, opts: { json?: boolean }, cmd: Command) => {
        const r = await client(cmd).scheduleOp(name, op);
        if (opts.json) return printJson(r);
        out(`schedule ${name}: ${{ pause: 'paused', unpause: 'unpaused', trigger: 'triggered', delete: 'deleted' }[op]}`);
      });
  }
}
