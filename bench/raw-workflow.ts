/** The baseline: a hand-written minimal Temporal workflow running the same scripts as plain activities. */
import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type * as activities from './raw-activities.js';

const { runCommand } = proxyActivities<typeof activities>({ startToCloseTimeout: '1m' });
const local = proxyLocalActivities<typeof activities>({ startToCloseTimeout: '30s' });

export async function rawSequence(commands: { argv: string[]; cwd: string }[]): Promise<number> {
  for (const c of commands) await runCommand(c.argv, c.cwd);
  return commands.length;
}

/** The same as local activities: the floor of Stackwire's idempotent steps on this SDK and machine. */
export async function rawLocalSequence(commands: { argv: string[]; cwd: string }[]): Promise<number> {
  for (const c of commands) await local.runCommand(c.argv, c.cwd);
  return commands.length;
}

/** The fan-out baseline: the same command for every item, `concurrency` at a time. */
export async function rawFanOut(command: { argv: string[]; cwd: string }, items: number, concurrency: number): Promise<number> {
  let next = 0;
  const lane = async () => {
    while (next < items) {
      next++;
      await runCommand(command.argv, command.cwd);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return items;
}

/** The same with local activities: the floor of Stackwire's fan-out of idempotent items on this SDK and machine. */
export async function rawLocalFanOut(command: { argv: string[]; cwd: string }, items: number, concurrency: number): Promise<number> {
  let next = 0;
  const lane = async () => {
    while (next < items) {
      next++;
      await local.runCommand(command.argv, command.cwd);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return items;
}
