/** The baseline: a hand-written minimal Temporal workflow running the same scripts as plain activities. */
import { proxyActivities } from '@temporalio/workflow';
import type * as activities from './raw-activities.js';

const { runCommand } = proxyActivities<typeof activities>({ startToCloseTimeout: '1m' });

export async function rawSequence(commands: { argv: string[]; cwd: string }[]): Promise<number> {
  for (const c of commands) await runCommand(c.argv, c.cwd);
  return commands.length;
}
