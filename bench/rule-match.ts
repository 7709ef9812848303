/**
 * Rule matching throughput (`npm run bench -- --only rules`): a RuleIndex of 1,000 rules over 50
 * trigger types with every kind of operator, and a stream of generated trigger payloads matched one
 * after another on one core, as the API matches incoming triggers. Deterministic (seeded).
 */
import os from 'node:os';
import { RuleIndex, type RuleCriterion, type RuleDef } from '../common/rule.js';

/** A small seeded generator (mulberry32), so every run matches the same stream. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SEVERITIES = ['ok', 'info', 'warning', 'critical'];
const ENVS = ['dev', 'staging', 'production'];
const SERVICES = ['nginx', 'postgres', 'redis', 'media', 'auth', 'api', 'ui', 'turn'];
const REGIONS = ['us-east', 'us-west', 'eu-west', 'ap-south'];

export interface RuleBenchResult {
  rules: number;
  triggerTypes: number;
  events: number;
  operators: Record<string, number>;
  buildMs: number;
  seconds: number;
  eventsPerSecond: number;
  microsecondsPerEvent: number;
  matchedEvents: number;
  ruleMatches: number;
  target: string;
}

/** The criteria of one generated rule: 1 to 4, over the paths every payload may have. */
function criteria(rnd: () => number, pick: <T>(xs: T[]) => T): Record<string, RuleCriterion> {
  const menu: [string, RuleCriterion][] = [
    ['trigger.body.severity', { type: 'equals', pattern: pick(SEVERITIES) }],
    ['trigger.body.severity', { type: 'inside', pattern: ['warning', 'critical'] }],
    ['trigger.body.env', { type: 'nequals', pattern: pick(ENVS) }],
    ['trigger.body.env', { type: 'iequals', pattern: pick(ENVS).toUpperCase() }],
    ['trigger.body.host', { type: 'matchwildcard', pattern: `${pick(SERVICES)}-*` }],
    ['trigger.body.host', { type: 'startswith', pattern: pick(SERVICES) }],
    ['trigger.body.host', { type: 'regex', pattern: `^${pick(SERVICES)}-\\d+$` }],
    ['trigger.body.message', { type: 'icontains', pattern: pick(['timeout', 'refused', 'disk', 'oom']) }],
    ['trigger.body.message', { type: 'iregex', pattern: `(${pick(['timeout', 'refused'])}|${pick(['disk', 'oom'])}) .*` }],
    ['trigger.body.count', { type: 'greaterthan', pattern: Math.floor(rnd() * 80) }],
    ['trigger.body.count', { type: 'lessthan', pattern: Math.floor(rnd() * 80) + 20 }],
    ['trigger.body.tags', { type: 'contains', pattern: pick(['urgent', 'pager', 'batch']) }],
    ['trigger.body.check.name', { type: 'endswith', pattern: pick(['_disk', '_http', '_proc']) }],
    ['trigger.body.region', { type: 'ninside', pattern: [pick(REGIONS)] }],
    ['trigger.body.ticket', { type: 'nexists' }],
    ['trigger.body.labels.team', { type: 'exists' }],
    ['trigger.body.hosts.0', { type: 'matchregex', pattern: `${pick(SERVICES)}-\\d` }],
  ];
  const out: Record<string, RuleCriterion> = {};
  const n = 1 + Math.floor(rnd() * 4);
  for (let i = 0; i < n; i++) {
    const [path, c] = pick(menu);
    out[Object.hasOwn(out, path) ? `${path}#${i}` : path] = c;
  }
  return out;
}

function payload(rnd: () => number, pick: <T>(xs: T[]) => T): unknown {
  const service = pick(SERVICES);
  const host = `${service}-${Math.floor(rnd() * 40)}`;
  return {
    headers: { 'x-request-id': Math.floor(rnd() * 1e9).toString(16) },
    body: {
      severity: pick(SEVERITIES),
      env: pick(ENVS),
      host,
      hosts: [host, `${pick(SERVICES)}-${Math.floor(rnd() * 40)}`],
      region: pick(REGIONS),
      message: `${pick(['Connection', 'Request', 'Write'])} ${pick(['timeout', 'refused', 'disk full', 'OOM killed'])} on ${host}`,
      count: Math.floor(rnd() * 100),
      tags: rnd() < 0.5 ? ['urgent'] : ['batch', 'pager'],
      check: { name: `${service}${pick(['_disk', '_http', '_proc'])}`, status: Math.floor(rnd() * 3) },
      ...(rnd() < 0.3 ? { ticket: 'OPS-1' } : {}),
      ...(rnd() < 0.6 ? { labels: { team: 'sre' } } : {}),
    },
  };
}

export function benchRuleMatch(o: { rules?: number; triggerTypes?: number; events?: number } = {}): RuleBenchResult {
  const ruleCount = o.rules ?? 1000;
  const typeCount = o.triggerTypes ?? 50;
  const eventCount = o.events ?? 200_000;
  const rnd = random(42);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)];
  const types = Array.from({ length: typeCount }, (_, i) => (i % 5 === 0 ? `sensu.event${i}` : i % 5 === 1 ? `github.push${i}` : `webhook.alerts${i}`));
  const defs: RuleDef[] = Array.from({ length: ruleCount }, (_, i) => ({
    name: `rule-${i}`,
    trigger: { type: types[i % typeCount] },
    criteria: criteria(rnd, pick),
    action: { ref: 'ops.remediate', parameters: { host: '${{ trigger.body.host }}' } },
  }));
  const operators: Record<string, number> = {};
  for (const d of defs) for (const c of Object.values(d.criteria ?? {})) operators[c.type] = (operators[c.type] ?? 0) + 1;
  const events = Array.from({ length: eventCount }, () => ({ type: pick(types), payload: payload(rnd, pick) }));

  const t0 = performance.now();
  const index = new RuleIndex(defs);
  const buildMs = performance.now() - t0;

  // Warm up (the JIT), then the timed stream.
  for (let i = 0; i < Math.min(20_000, eventCount); i++) index.match(events[i].type, events[i].payload);
  let matchedEvents = 0;
  let ruleMatches = 0;
  const t1 = performance.now();
  for (const e of events) {
    const m = index.match(e.type, e.payload);
    if (m.length) {
      matchedEvents++;
      ruleMatches += m.length;
    }
  }
  const seconds = (performance.now() - t1) / 1000;
  return {
    rules: ruleCount,
    triggerTypes: typeCount,
    events: eventCount,
    operators,
    buildMs: +buildMs.toFixed(1),
    seconds: +seconds.toFixed(3),
    eventsPerSecond: Math.round(eventCount / seconds),
    microsecondsPerEvent: +((seconds * 1e6) / eventCount).toFixed(2),
    matchedEvents,
    ruleMatches,
    target: '≥ 50,000 events/s on one core',
  };
}

export function ruleBenchReport(r: RuleBenchResult): string {
  return [
    `rule matching: ${r.rules} rules over ${r.triggerTypes} trigger types, ${r.events} events, one core (${os.cpus()[0]?.model ?? '?'})`,
    `  index built in ${r.buildMs} ms`,
    `  ${r.eventsPerSecond.toLocaleString('en-US')} events/s (${r.microsecondsPerEvent} µs an event; target ≥ 50,000/s)`,
    `  ${r.matchedEvents} events matched at least one rule, ${r.ruleMatches} rule matches in all`,
  ].join('\n');
}
