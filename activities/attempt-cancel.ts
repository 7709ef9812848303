/** Why an action attempt's script was stopped by a cancellation: asked for, or Temporal let the attempt go (activities/run-action.ts). */
import type { Context } from '@temporalio/activity';

/** Cancelled because someone asked (the workflow, an operator), not because Temporal let the attempt go. */
export function requestedCancel(ctx: Context): boolean {
  const d = ctx.cancellationDetails;
  return !d || d.cancelRequested || !(d.timedOut || d.notFound || d.workerShutdown || d.paused || d.reset);
}

export function abandonedWhy(ctx: Context): string {
  const d = ctx.cancellationDetails;
  if (d?.workerShutdown) return 'its worker shut down before the script ended';
  if (d?.timedOut) return 'Temporal timed the attempt out (no heartbeat reached the server in time)';
  if (d?.notFound) return 'Temporal no longer knows the attempt';
  if (d?.paused) return 'paused by an operator';
  return 'reset by an operator';
}
