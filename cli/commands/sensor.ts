/** stackwire sensor create|list|delete: long-running watchers that emit triggers (workflows sensor.<name>). */
import type { Command } from 'commander';
import type { SensorCreateRequest, SensorKind } from '../../common/api-types-sensors.js';
import { ParameterError, coerceFromStrings } from '../../common/parameters.js';
import { ExitError, client, out, printJson, table } from '../shared.js';
import { getActionOrExit } from './actions.js';

const KINDS: SensorKind[] = ['sensu', 'git', 'script'];

interface CreateOptions {
  kind?: string;
  interval?: string;
  region?: string;
  namespace?: string;
  url?: string;
  branch?: string;
  action?: string;
  param: string[];
  json?: boolean;
}

export function registerSensorCommands(program: Command): void {
  const sensor = program
    .command('sensor')
    .description('sensors: long-running watchers that emit triggers (Sensu check changes, git branch moves, JSON lines of a script)');
  sensor
    .command('create')
    .description('start a sensor (workflow sensor.<name>); everything is checked before it starts; admin')
    .argument('<name>', 'the sensor: lower-case letters, digits and dashes')
    .option('--kind <kind>', `what it watches: ${KINDS.join(', ')}`)
    .option('--interval <interval>', 'between polls (sensu, git; default 30s) or before a script that ended starts again (script; default 10s)')
    .option('--region <region>', "region whose workers poll or run the script (default: the action's region, else the first)")
    .option('--namespace <ns>', 'sensu: the Sensu namespace (default: SENSU_NAMESPACE of the stack)')
    .option('--url <url>', 'git: the repository to watch')
    .option('--branch <branch>', 'git: the branch to watch (default main)')
    .option('--action <action>', 'script: the action whose process prints one JSON object per line')
    .option(
      '--param <key=value>',
      'script: a parameter of the action (repeatable; arrays: k=a,b or k=\'["a","b"]\')',
      (v: string, all: string[]) => [...all, v],
      [],
    )
    .option('--json', 'print as JSON')
    .addHelpText(
      'after',
      `
Kinds:
  sensu   every status change of a Sensu check emits sensu.event (the Sensu event plus previous_status);
          the first poll records the statuses without emitting
  git     a branch that moves emits git.push {repository, ref, before, after, commit}; the first poll records it
  script  each JSON object the action prints on a line emits sensor.<name> (an "id" field dedupes);
          the process is started again after --interval (doubling while it keeps ending quickly)

Examples:
  stackwire sensor create checks --kind sensu --interval 10s
  stackwire sensor create app-main --kind git --url https://git.example.com/ops/app.git --branch main --interval 1m
  stackwire sensor create queue-depth --kind script --action ops.watch_queue --param queue=billing`,
    )
    .action(async (name: string, opts: CreateOptions, cmd: Command) => {
      if (!opts.kind) throw new ExitError(2, `--kind is required: one of ${KINDS.join(', ')}.`);
      if (!(KINDS as string[]).includes(opts.kind)) throw new ExitError(2, `--kind ${opts.kind}: use one of ${KINDS.join(', ')}.`);
      const api = client(cmd);
      let parameters: Record<string, unknown> | undefined;
      if (opts.param.length) {
        if (!opts.action) throw new ExitError(2, '--param is for a script sensor: give --action too.');
        try {
          parameters = coerceFromStrings(await getActionOrExit(api, opts.action), opts.param);
        } catch (e) {
          if (e instanceof ParameterError) throw new ExitError(2, e.message);
          throw e;
        }
      }
      const req: SensorCreateRequest = {
        name,
        kind: opts.kind as SensorKind,
        ...(opts.interval !== undefined ? { interval: opts.interval } : {}),
        ...(opts.region !== undefined ? { region: opts.region } : {}),
        ...(opts.namespace !== undefined ? { namespace: opts.namespace } : {}),
        ...(opts.url !== undefined ? { url: opts.url } : {}),
        ...(opts.branch !== undefined ? { branch: opts.branch } : {}),
        ...(opts.action !== undefined ? { action: opts.action } : {}),
        ...(parameters ? { parameters } : {}),
      };
      const r = await api.createSensor(req);
      if (opts.json) return printJson(r);
      out(`sensor ${r.name} started (${r.kind}, every ${r.interval}, on ${r.region}): emits ${r.triggerType}; workflow ${r.workflowId}`);
    });
  sensor
    .command('list')
    .description('sensors, running or not: what they watch, their last poll and the events they emitted')
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const r = await client(cmd).listSensors();
      if (opts.json) return printJson(r);
      if (!r.sensors.length) return out('no sensors');
      const text = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));
      const what = (d: Record<string, unknown>): string =>
        d.url !== undefined ? `${text(d.url)} ${text(d.branch)}` : d.action !== undefined ? text(d.action) : `namespace ${text(d.namespace)}`;
      out(
        table([
          ['NAME', 'KIND', 'STATUS', 'WATCHES', 'EVERY', 'EVENTS', 'LAST POLL', 'LAST ERROR'],
          ...r.sensors.map((s) => [
            s.name,
            s.kind,
            s.status,
            what(s.definition),
            s.interval,
            String(s.eventsEmitted),
            s.lastPollAt ?? '',
            (s.lastError ?? '').slice(0, 60),
          ]),
        ]),
      );
    });
  sensor
    .command('get')
    .description('one sensor: what it watches, its status, last poll, polls, events emitted, last error')
    .argument('<name>')
    .option('--json', 'print as JSON')
    .action(async (name: string, opts: { json?: boolean }, cmd: Command) => {
      const s = await client(cmd).getSensor(name);
      if (opts.json) return printJson(s);
      out(`sensor ${s.name}: ${s.status} (${s.kind}, every ${s.interval || '?'}, on ${s.region || '?'}); emits ${s.triggerType}; workflow ${s.workflowId}`);
      out(`  watches:     ${JSON.stringify(s.definition)}`);
      out(`  events:      ${s.eventsEmitted}${s.lastEventAt ? `, last at ${s.lastEventAt}` : ''}`);
      out(`  polls:       ${s.polls ?? '? (not running, or it did not answer)'}${s.lastPollAt ? `, last at ${s.lastPollAt}` : ''}`);
      if (s.starts !== undefined) out(`  starts:      ${s.starts ?? '?'}`);
      if (s.lastError) out(`  last error:  ${s.lastError}`);
      if (s.details) out(`  details:     ${s.details}`);
    });
  sensor
    .command('delete')
    .description('stop a sensor: its workflow is cancelled (a script sensor’s process is killed); admin')
    .argument('<name>')
    .option('--json', 'print as JSON')
    .action(async (name: string, opts: { json?: boolean }, cmd: Command) => {
      const r = await client(cmd).deleteSensor(name);
      if (opts.json) return printJson(r);
      out(r.cancelled ? `sensor ${name} stopped (${r.status})` : `sensor ${name} was not running (${r.status})`);
    });
}
