/**
 * The failure converter of every Stackwire client, worker and workflow bundle: failure messages and
 * stack traces travel as an encoded payload (`encodedAttributes`), which the payload codec
 * (lib/payload-codec.ts) encrypts like any other payload. History then shows "Encoded failure".
 * Loaded by path (Temporal's `failureConverterPath`), so it is its own module; deterministic, no Node.
 */
import { DefaultFailureConverter } from '@temporalio/common';

export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
