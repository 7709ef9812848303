/**
 * stackwire — the command line. A client of the HTTP API, never a second implementation; one module
 * per command group in cli/commands/.
 * Exit codes: 0 success, 1 the run (or request) failed, 2 bad input (nothing was started).
 */
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../lib/config.js';
import { ApiRequestError, ApiUnreachableError } from './api-client.js';
import { registerActionCommands, showAction } from './commands/actions.js';
import { registerApiKeyCommands } from './commands/apikey.js';
import { registerAuditCommands } from './commands/audit.js';
import { registerDeployCommands } from './commands/deploy.js';
import { registerExecutionCommands } from './commands/executions.js';
import { registerIngestCommands } from './commands/ingest.js';
import { registerMetricsCommands } from './commands/metrics.js';
import { registerPipelineCommands } from './commands/pipeline.js';
import { registerPipelineRunCommands } from './commands/pipeline-run.js';
import { registerRuleCommands } from './commands/rule.js';
import { registerRuleManageCommands } from './commands/rule-manage.js';
import { registerRuleImportCommand } from './commands/rule-import.js';
import { registerRunCommand } from './commands/run.js';
import { registerSotCommands } from './commands/sot.js';
import { registerScheduleCommands } from './commands/schedule.js';
import { registerSensorCommands } from './commands/sensor.js';
import { registerUiCommand } from './commands/ui.js';
import { registerWhoamiCommand } from './commands/whoami.js';
import { registerTriggerCommands } from './commands/triggers.js';
import { ExitError, apiClientFor, err } from './shared.js';

export function buildProgram(): Command {
  const program = new Command('stackwire')
    .description('Stackwire: run ops scripts as durable, observable actions on Temporal.')
    .option('--api <url>', 'API base URL (default: STACKWIRE_API_URL, the credentials file, or http://127.0.0.1:7380)')
    .showHelpAfterError()
    .exitOverride();
  registerRunCommand(program);
  registerIngestCommands(program);
  registerSotCommands(program);
  registerDeployCommands(program);
  registerPipelineRunCommands(registerPipelineCommands(program));
  registerExecutionCommands(program);
  registerActionCommands(program);
  registerApiKeyCommands(program);
  registerWhoamiCommand(program);
  registerUiCommand(program);
  registerScheduleCommands(program);
  const rule = registerRuleCommands(program);
  registerRuleManageCommands(rule);
  registerRuleImportCommand(rule);
  registerAuditCommands(program);
  registerTriggerCommands(program);
  registerSensorCommands(program);
  registerMetricsCommands(program);
  return program;
}

/** The exit code for an error: 2 when nothing could start because of the input or the configuration, else 1. */
function report(e: unknown): number {
  if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
  if (e instanceof ExitError) {
    // No message: it has been said (commander's usage errors).
    if (e.message) err(`stackwire: ${e.message}`);
    return e.code;
  }
  if (e instanceof ConfigError) {
    err(`stackwire: configuration error: ${e.message}`);
    return 2;
  }
  if (e instanceof ApiUnreachableError) {
    err(`stackwire: ${e.message}`);
    return 1;
  }
  if (e instanceof ApiRequestError) {
    err(`stackwire: ${e.message}`);
    return e.status === 400 || e.status === 404 || e.code === 'no_api_key' ? 2 : 1;
  }
  err(`stackwire: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  return 1;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    // `stackwire run <action> -h` is help for the action, not for `run`.
    // (Only `stackwire run`: `stackwire pipeline run <file> -h` is help for the command.)
    const first = argv.findIndex((a, i) => !a.startsWith('-') && argv[i - 1] !== '--api');
    const runAt = argv[first] === 'run' ? first : -1;
    const actionArg = runAt >= 0 ? argv.slice(runAt + 1).find((a) => !a.startsWith('-')) : undefined;
    if (runAt >= 0 && actionArg && argv.slice(runAt + 1).some((a) => a === '-h' || a === '--help')) {
      const apiAt = argv.indexOf('--api');
      await showAction(apiClientFor(apiAt >= 0 ? argv[apiAt + 1] : undefined), actionArg, argv.includes('--json'));
      return 0;
    }
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    return report(e);
  }
}
