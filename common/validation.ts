/**
 * The one place for the shapes of names, ids, versions, tags and git URLs. Pure (workflow-safe):
 * the API, the CLI, ingestion, the source-of-truth parser and the workers all check with these.
 */

/** A pack: lower-case letters, digits, _ and -, starting with a letter (`ops`, `deploy-kit`). */
export const PACK_NAME = /^[a-z][a-z0-9_-]{0,62}$/;
/** An action reference `pack.action[.sub]`. */
export const ACTION_NAME = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_.-]+$/;
/** A workflow or execution id as Stackwire makes them (`ops.disk_report-us-east-1a2b…`, `deploy.web.prod`). */
export const RUN_ID = /^[A-Za-z0-9._:-]{1,200}$/;
/** A version to deploy (`2.4.0`, `1.0.0-rc.1+build5`, `v3`). */
export const VERSION = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/;
/** A git tag name (`release-2026.11`, `v1.2.0`). */
export const TAG = /^[\w][\w./-]{0,127}$/;
/** A region (`us-east`); also the suffix of its task queue. */
export const REGION = /^[a-z][a-z0-9-]{0,30}[a-z0-9]$/;
/** A component or environment of the source of truth. */
export const SOT_NAME = /^[a-z][a-z0-9-]{0,62}$/;
/** A check name (Sensu's rule). */
export const CHECK_NAME = /^[A-Za-z0-9_.-]{1,63}$/;
/** A Puppet class (`role::media_server`). */
export const PUPPET_CLASS = /^[a-z][a-z0-9_]*(::[a-z][a-z0-9_]*)*$/;
/** A sha256 in lower-case hex. */
export const SHA256_HEX = /^[0-9a-f]{64}$/;
/** Parameter names that are secret unless metadata says otherwise. */
export const SECRET_NAME = /pass(word|wd)?|secret|token|api_?key|credential/i;

/** A git URL in one of the forms git understands: scheme://… or scp-like user@host:path (which ones are allowed: git-url.ts). */
export function looksLikeGitUrl(s: string): boolean {
  return /^(https?|ssh|git|file):\/\//.test(s) || /^[\w.-]+@[\w.-]+:/.test(s);
}
