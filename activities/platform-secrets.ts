/** `secret:<name>` references of platform settings, opened on the worker from the sealed store (db/sot-secrets.ts). */
import { ApplicationFailure } from '@temporalio/activity';
import { SECRET_REF } from '../common/platform-types.js';
import type { Pool } from '../db/pool.js';
import { sealedSotSecrets } from '../db/sot-secrets.js';
import { isSealed, unseal } from '../lib/secrets.js';

export interface SecretDeps {
  pool: Pool;
  secretKey: Buffer | undefined;
  oldSecretKeys?: Buffer[] | undefined;
}

/** The values with every secret reference replaced by its value; a missing one fails, saying how to set it. */
export async function openSecretRefs(deps: SecretDeps, values: Record<string, string>): Promise<Record<string, string>> {
  const names = [...new Set(Object.values(values).filter((v) => SECRET_REF.test(v)))].map((v) => v.slice('secret:'.length));
  if (!names.length) return values;
  const sealed = await sealedSotSecrets(deps.pool, names);
  const missing = names.filter((n) => !sealed.has(n));
  if (missing.length)
    throw ApplicationFailure.create({
      message: `the source of truth refers to ${missing.map((m) => `secret:${m}`).join(', ')}, which ${missing.length > 1 ? 'are' : 'is'} not set: stackwire sot secret set ${missing[0]} --from-env VAR`,
      type: 'SecretMissing',
      nonRetryable: true,
    });
  const keys = [...(deps.secretKey ? [deps.secretKey] : []), ...(deps.oldSecretKeys ?? [])];
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(values)) {
    if (!SECRET_REF.test(v)) {
      out[k] = v;
      continue;
    }
    const s = sealed.get(v.slice('secret:'.length));
    try {
      out[k] = String(isSealed(s) ? unseal(s, keys) : s);
    } catch (err) {
      throw ApplicationFailure.create({ message: `${v} cannot be opened: ${(err as Error).message}`, type: 'SecretMissing', nonRetryable: true });
    }
  }
  return out;
}
