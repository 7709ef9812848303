/**
 * The API's bodies for rules (re-exported by api-types.ts). Types only, workflow-safe. README: Rules.
 */
import type { RuleDef } from './rule.js';

/** GET /api/v1/rules/:name: an applied rule, its definition as validated and the file text it came from. */
export interface RuleGetResponse {
  name: string;
  /** Increases by one each time the rule is applied with a change. */
  version: number;
  enabled: boolean;
  definition: RuleDef;
  /** The text of the file it was applied from (all of it, when the file held several rules). */
  source: string;
  /** That file's path as given to `rule apply`. */
  file: string;
  /** The actor (API key owner) who applied this version. */
  appliedBy: string;
  appliedAt: string;
  /** Every version, newest first: created, updated, deleted (a rule applied again after a delete goes on counting). */
  versions: { version: number; change: 'created' | 'updated' | 'deleted'; actor: string; at: string }[];
}

/** POST /api/v1/rules/apply */
export interface RuleApplyResponse {
  dryRun: boolean;
  rules: { name: string; outcome: 'created' | 'updated' | 'unchanged'; version: number }[];
}

/** GET /api/v1/rules */
export interface RuleListResponse {
  rules: {
    name: string;
    version: number;
    enabled: boolean;
    trigger: string;
    /** `action <name>` or `pipeline <name> of pack <p>` / `of component <c>`. */
    target: string;
    description: string;
    appliedBy: string;
    appliedAt: string;
  }[];
}
