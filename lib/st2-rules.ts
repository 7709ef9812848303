/**
 * StackStorm rules as Stackwire rules (`stackwire rule import`). The formats are close (README: Rules):
 * criteria and operators carry over as they are; a webhook trigger (`core.st2.webhook` with its `url`)
 * becomes `webhook.<url>` with the same `{body, headers}` payload; `{{ trigger.… }}` in parameters
 * becomes `${{ trigger.… }}`; an action ref becomes the name its pack was imported under. What has no
 * exact equivalent (sensor and internal triggers, timers, Jinja beyond a payload path) leaves the rule
 * unconverted with its reasons. Ingest never applies rules: a rule acts with the authority of who
 * applies it (`stackwire rule apply`).
 */
import YAML from 'yaml';
import { st2ActionName } from '../common/st2-names.js';
import { RULE_NAME } from '../common/rule.js';

export interface St2RuleResult {
  /** The rule's name as converted (or as written, when it could not be). */
  name: string;
  /** The Stackwire rule file, when it converted. */
  content?: string;
  reasons: string[];
}

const WEBHOOK_NAME = /^[a-z][a-z0-9-]{0,62}$/;
const TIMERS = new Set(['core.st2.CronTimer', 'core.st2.IntervalTimer', 'core.st2.DateTimer']);

function triggerType(t: Record<string, unknown>, sensors: Record<string, string>, reasons: string[]): string {
  const type = typeof t.type === 'string' ? t.type : '';
  const params = (t.parameters ?? {}) as Record<string, unknown>;
  if (sensors[type]) return `sensor.${sensors[type]}`;
  if (type === 'core.st2.webhook') {
    const url = typeof params.url === 'string' ? params.url.replace(/^\/+|\/+$/g, '') : '';
    if (!WEBHOOK_NAME.test(url))
      reasons.push(
        `trigger: the webhook url ${JSON.stringify(params.url)} is not a Stackwire webhook name (lower-case letters, digits and -); rename it and create that webhook`,
      );
    return `webhook.${url}`;
  }
  if (TIMERS.has(type)) reasons.push(`trigger: ${type} is a timer: create a Stackwire schedule instead (stackwire schedule create)`);
  else if (type.startsWith('core.st2.')) reasons.push(`trigger: ${type} is one of StackStorm's internal triggers, which Stackwire does not emit`);
  else
    reasons.push(
      `trigger: ${type || '(none)'} is emitted by a StackStorm sensor: start the sensor's imported action as a Stackwire sensor (stackwire sensor create NAME --kind script --action …) and give --sensor ${type || 'TYPE'}=NAME`,
    );
  return type;
}

/** `{{ trigger.x }}` → `${{ trigger.x }}`; anything else in a template is not convertible. */
function convertTemplates(v: unknown, where: string, reasons: string[], root: string): unknown {
  if (Array.isArray(v)) return v.map((x, i) => convertTemplates(x, `${where}[${i}]`, reasons, root));
  if (v && typeof v === 'object')
    return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, convertTemplates(x, `${where}.${k}`, reasons, root)]));
  if (typeof v !== 'string') return v;
  if (/\{%/.test(v)) reasons.push(`${where}: Jinja blocks ({% … %}) have no equivalent`);
  return v.replace(/\{\{([\s\S]*?)\}\}/g, (m, inner: string) => {
    const expr = inner.trim();
    if (/^trigger(\.[A-Za-z_][\w-]*|\[\d+\]|\['[^']*'\]|\["[^"]*"\])*$/.test(expr))
      return `\${{ ${expr.replace(/\["([^"]*)"\]/g, "['$1']").replace(/^trigger/, root)} }}`;
    reasons.push(`${where}: {{ ${expr} }} reads more than the trigger's payload (filters, st2kv, action_context …)`);
    return m;
  });
}

/**
 * One StackStorm rule document. `sensors` maps a sensor's trigger type (`pack.trigger`) to the Stackwire
 * sensor that runs it: its events are `sensor.<name>` with `{trigger, payload}`, so the rule reads
 * `trigger.payload.…` and also requires `trigger.trigger` to be that type.
 */
export function convertSt2Rule(doc: Record<string, unknown>, sensors: Record<string, string> = {}): St2RuleResult {
  const reasons: string[] = [];
  const rawName = typeof doc.name === 'string' ? doc.name : '';
  const pack = typeof doc.pack === 'string' ? doc.pack : '';
  const name = `${pack ? `${pack}.` : ''}${rawName}`.toLowerCase().replace(/[^a-z0-9_.-]+/g, '_');
  if (!rawName || !RULE_NAME.test(name)) reasons.push(`name: ${JSON.stringify(rawName)} does not give a rule name (^[a-z0-9][a-z0-9_.-]{0,99}$)`);
  for (const k of Object.keys(doc))
    if (!['name', 'pack', 'ref', 'description', 'enabled', 'trigger', 'criteria', 'action', 'tags', 'uid', 'id', 'metadata_file', 'context'].includes(k))
      reasons.push(`${k}: not converted`);
  const trigger = (doc.trigger ?? {}) as Record<string, unknown>;
  const type = triggerType(trigger, sensors, reasons);
  const fromSensor = type.startsWith('sensor.');
  const root = fromSensor ? 'trigger.payload' : 'trigger';
  const criteria: Record<string, Record<string, unknown>> = {};
  for (const [key, c] of Object.entries((doc.criteria ?? {}) as Record<string, Record<string, unknown>>))
    criteria[key.replace(/^trigger(?=[.[#]|$)/, root)] = c;
  if (fromSensor) criteria['trigger.trigger'] = { type: 'equals', pattern: trigger.type };
  for (const [key, c] of Object.entries(criteria))
    if (typeof c?.pattern === 'string' && /\{\{|\{%/.test(c.pattern))
      reasons.push(`criteria["${key}"].pattern: a Jinja pattern (patterns are literal in Stackwire)`);
  const action = (doc.action ?? {}) as Record<string, unknown>;
  if (typeof action.ref !== 'string') reasons.push('action.ref: a rule needs the action it runs');
  const parameters = convertTemplates(action.parameters ?? {}, 'action.parameters', reasons, root) as Record<string, unknown>;
  if (reasons.length) return { name: name || rawName, reasons };
  const rule = {
    name,
    ...(typeof doc.description === 'string' ? { description: doc.description } : {}),
    ...(doc.enabled === false ? { enabled: false } : {}),
    trigger: { type },
    ...(Object.keys(criteria).length ? { criteria } : {}),
    action: { ref: st2ActionName(action.ref as string), ...(Object.keys(parameters).length ? { parameters } : {}) },
  };
  return { name, content: YAML.stringify(rule, { lineWidth: 0 }), reasons: [] };
}

/** Every rule of a StackStorm rule file (YAML or JSON, one document or several). */
export function convertSt2RuleFile(text: string, file: string, sensors: Record<string, string> = {}): St2RuleResult[] {
  const docs = YAML.parseAllDocuments(text);
  const out: St2RuleResult[] = [];
  for (const d of docs) {
    if (d.errors.length) {
      const e = d.errors[0];
      out.push({ name: file, reasons: [`${file}:${e.linePos?.[0]?.line ?? '?'}:${e.linePos?.[0]?.col ?? '?'}: ${e.message.split('\n')[0]}`] });
      continue;
    }
    const v = d.toJS() as unknown;
    if (v === null || v === undefined) continue;
    if (typeof v !== 'object' || Array.isArray(v)) out.push({ name: file, reasons: [`${file}: not a rule (a mapping with name, trigger and action)`] });
    else out.push(convertSt2Rule(v as Record<string, unknown>, sensors));
  }
  return out;
}
