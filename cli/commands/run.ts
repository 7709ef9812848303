/** stackwire run <action> [key=value …]: start an action, stream its output, exit with its outcome. */
import type { Command } from 'commander';
import type { RunRequest } from '../../common/api-types.js';
import { ParameterError, coerceFromStrings } from '../../common/parameters.js';
import { ApiRequestError } from '../api-client.js';
import { ExitError, client, err, out, printJson } from '../shared.js';
import { getActionOrExit } from './actions.js';
import { exitFor, printExecution, printSummary, streamLogs, waitFor } from './executions.js';

interface RunOptions {
  region?: string;
  regions?: string;
  wait: boolean;
  json?: boolean;
  dryRun?: boolean;
}

export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description('run an action and wait for its result')
    .argument('<action>', 'action name, e.g. ops.disk_report')
    .argument('[parameters...]', 'parameters as key=value (arrays: k=a,b or k=\'["a","b"]\')')
    .option('--region <region>', "region whose workers run it (default: the action's region or the first configured)")
    .option('--regions <list>', 'run in several regions at once, comma-separated')
    .option('--no-wait', 'print the execution id and return at once')
    .option('--dry-run', 'check the parameters and print the exact command line; run nothing')
    .option('--json', 'print the result as JSON')
    .action(async (actionName: string, pairs: string[], opts: RunOptions, cmd: Command) => {
      const api = client(cmd);
      const action = await getActionOrExit(api, actionName);
      let parameters: Record<string, unknown>;
      try {
        parameters = coerceFromStrings(action, pairs);
      } catch (e) {
        if (e instanceof ParameterError) throw new ExitError(2, e.message);
        throw e;
      }
      const body: RunRequest = {
        action: actionName,
        parameters,
        ...(opts.region ? { region: opts.region } : {}),
        ...(opts.regions ? { regions: opts.regions.split(',').map((r) => r.trim()) } : {}),
        ...(opts.dryRun ? { dryRun: true } : {}),
      };
      let started;
      try {
        started = await api.run(body);
      } catch (e) {
        if (e instanceof ApiRequestError && e.status === 400) throw new ExitError(2, e.message);
        throw e;
      }
      if ('dryRun' in started) {
        out(opts.json ? JSON.stringify(started, null, 2) : started.command);
        return;
      }
      if (!opts.wait) {
        if (opts.json) printJson(started);
        else out(started.id);
        return;
      }
      if (!opts.json) err(`started ${started.id}: ${started.command} on ${started.regions.join(', ')}`);
      if (!opts.json && !opts.regions) {
        // Live output, then a one-line summary.
        await streamLogs(api, started.id, true);
        const result = await waitFor(api, started.id, actionName, true);
        printSummary(result);
        process.exitCode = exitFor(result);
        return;
      }
      const result = await waitFor(api, started.id, `${actionName} on ${started.regions.join(', ')}`, Boolean(opts.json));
      if (opts.json) printJson(result);
      else printExecution(result);
      process.exitCode = exitFor(result);
    });
}
