/**
 * A cancel that reaches a workflow in the same activation as the event that lets it go on (the poll's
 * timer firing, a batch's last child ending) is applied before the workflow's code resumes: the code
 * then finds its scope cancelled but nothing left to reject. A workflow that continued as new then
 * would drop the cancel with the closing run, and the new run would go on as if nobody had asked
 * (seen in CI: a deleted sensor that kept polling). Called just before continueAsNew.
 * Deterministic: no I/O, no Node APIs.
 */
import { CancellationScope, CancelledFailure, patched } from '@temporalio/workflow';

export function throwIfCancelledBeforeContinueAsNew(): void {
  if (CancellationScope.current().consideredCancelled && patched('cancel-before-continue-as-new'))
    throw new CancelledFailure('cancelled as it was about to continue as new');
}
