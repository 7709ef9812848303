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
  /** The YAML document as applied. */
  source: string;
  /** The actor (API key owner) who applied this version. */
  appliedBy: string;
  appliedAt: string;
}
