/**
 * The source of truth as the operator writes it: YAML files of environments, regions and components
 * (repository, platform, owner, Puppet role and Hiera data, Sensu checks, deploy parameters and
 * actions, placements, dependencies). Parsed and validated completely before anything is applied;
 * every problem carries file, line and column.
 */
import YAML, { LineCounter, isMap, isSeq, type Document, type Node as YamlNode } from 'yaml';
import type { CheckSpec } from '../common/deploy.js';
import { findCycle } from '../common/graph.js';

export const PLATFORMS = ['bare-metal', 'kvm', 'vsphere', 'docker'] as const;
export type Platform = (typeof PLATFORMS)[number];

export type CheckConfig = CheckSpec;

export interface Component {
  name: string;
  repository: string;
  platform: Platform;
  owner: string;
  puppetRole: string | null;
  hiera: Record<string, unknown>;
  checks: CheckConfig[];
  deployParams: Record<string, unknown>;
  actions: { build?: string; deploy?: string; rollback?: string };
  dependsOn: string[];
  /** environment → regions */
  placements: Record<string, string[]>;
  source: string;
}

export interface SourceOfTruth {
  environments: { name: string; description: string }[];
  regions: { name: string; description: string }[];
  components: Component[];
}

export interface SotProblem {
  file: string;
  line: number;
  column: number;
  message: string;
}

export class SotError extends Error {
  override name = 'SotError';
  constructor(readonly problems: SotProblem[]) {
    super(`the source of truth has ${problems.length} problem(s); nothing was applied:\n${problems.map((p) => `  ${p.file}:${p.line}:${p.column}: ${p.message}`).join('\n')}`);
  }
}

const NAME_RE = /^[a-z][a-z0-9-]{0,62}$/;
const COMPONENT_KEYS = new Set(['name', 'repository', 'platform', 'owner', 'puppet_role', 'hiera', 'checks', 'deploy_params', 'actions', 'depends_on', 'placements', 'description']);

interface Located<T> {
  value: T;
  at: { file: string; line: number; column: number };
}

export function parseSourceOfTruth(files: { path: string; content: string }[]): SourceOfTruth {
  const problems: SotProblem[] = [];
  const envs: Located<{ name: string; description: string }>[] = [];
  const regions: Located<{ name: string; description: string }>[] = [];
  const comps: Located<Component>[] = [];
  const refs: { kind: 'component' | 'environment' | 'region'; name: string; at: Located<unknown>['at']; what: string }[] = [];

  for (const f of files) {
    const lc = new LineCounter();
    const doc: Document = YAML.parseDocument(f.content, { lineCounter: lc, prettyErrors: false });
    const pos = (node: YamlNode | null | undefined) => {
      const offset = node?.range?.[0] ?? 0;
      const p = lc.linePos(offset);
      return { file: f.path, line: p.line, column: p.col };
    };
    const problem = (node: YamlNode | null | undefined, message: string) => problems.push({ ...pos(node), message });
    for (const e of doc.errors) {
      const p = e.linePos?.[0];
      problems.push({ file: f.path, line: p?.line ?? 1, column: p?.col ?? 1, message: e.message.split('\n')[0] });
    }
    if (doc.errors.length) continue;
    const root = doc.contents;
    if (!isMap(root)) {
      problem(root, 'a source-of-truth file is a mapping with environments, regions and/or components');
      continue;
    }
    for (const pair of root.items) {
      const key = String((pair.key as { value?: unknown }).value);
      const list = pair.value as YamlNode | null;
      if (!['environments', 'regions', 'components'].includes(key)) {
        problem(pair.key as YamlNode, `unknown section "${key}"; use environments, regions or components`);
        continue;
      }
      if (!isSeq(list)) {
        problem(list ?? (pair.key as YamlNode), `${key} must be a list`);
        continue;
      }
      for (const item of list.items as YamlNode[]) {
        if (!isMap(item)) {
          problem(item, `each entry of ${key} must be a mapping with at least a name`);
          continue;
        }
        const get = (k: string) => item.items.find((p) => String((p.key as { value?: unknown }).value) === k);
        const js = item.toJSON() as Record<string, unknown>;
        const nameNode = get('name')?.value as YamlNode | undefined;
        const name = js.name;
        if (typeof name !== 'string' || !NAME_RE.test(name)) {
          problem(nameNode ?? item, `${key.slice(0, -1)} name ${JSON.stringify(name)} must be lower-case letters, digits and dashes, starting with a letter`);
          continue;
        }
        if (key === 'environments' || key === 'regions') {
          (key === 'environments' ? envs : regions).push({ value: { name, description: typeof js.description === 'string' ? js.description : '' }, at: pos(nameNode) });
          continue;
        }
        for (const p of item.items) {
          const k = String((p.key as { value?: unknown }).value);
          if (!COMPONENT_KEYS.has(k)) problem(p.key as YamlNode, `unknown field "${k}" in component ${name}; allowed: ${[...COMPONENT_KEYS].join(', ')}`);
        }
        const platform = js.platform;
        if (!(PLATFORMS as readonly unknown[]).includes(platform)) {
          problem((get('platform')?.value as YamlNode | undefined) ?? item, `component ${name}: platform ${JSON.stringify(platform)} is not one of ${PLATFORMS.join(', ')}`);
        }
        if (typeof js.repository !== 'string' || js.repository === '') problem((get('repository')?.value as YamlNode | undefined) ?? item, `component ${name}: repository is required (the URL of its code)`);
        const dependsOn = js.depends_on ?? [];
        const depsNode = get('depends_on')?.value as YamlNode | undefined;
        if (!Array.isArray(dependsOn) || !dependsOn.every((d) => typeof d === 'string')) problem(depsNode ?? item, `component ${name}: depends_on must be a list of component names`);
        else if (isSeq(depsNode)) (depsNode.items as YamlNode[]).forEach((n, i) => refs.push({ kind: 'component', name: String(dependsOn[i]), at: pos(n), what: `component ${name} depends on` }));
        const placements = (js.placements ?? {}) as Record<string, unknown>;
        const placeNode = get('placements')?.value as YamlNode | undefined;
        if (typeof placements !== 'object' || Array.isArray(placements)) problem(placeNode ?? item, `component ${name}: placements maps each environment to a list of regions`);
        else if (isMap(placeNode)) {
          for (const pp of placeNode.items) {
            const env = String((pp.key as { value?: unknown }).value);
            refs.push({ kind: 'environment', name: env, at: pos(pp.key as YamlNode), what: `component ${name} is placed in environment` });
            const rs = pp.value as YamlNode;
            if (!isSeq(rs)) {
              problem(rs, `component ${name}: placements.${env} must be a list of regions`);
              continue;
            }
            for (const r of rs.items as YamlNode[]) refs.push({ kind: 'region', name: String((r as { value?: unknown }).value), at: pos(r), what: `component ${name} is placed (${env}) in region` });
          }
        }
        const checks = (js.checks ?? []) as Record<string, unknown>[];
        const checkNode = get('checks')?.value as YamlNode | undefined;
        const parsedChecks: CheckConfig[] = [];
        if (!Array.isArray(checks)) problem(checkNode ?? item, `component ${name}: checks must be a list of Sensu check definitions`);
        else
          checks.forEach((c, i) => {
            const at = isSeq(checkNode) ? (checkNode.items[i] as YamlNode) : item;
            if (typeof c?.name !== 'string' || typeof c.command !== 'string' || c.command.trim() === '') {
              problem(at, `component ${name}: checks[${i}] needs a name and a command (as in a Sensu CheckConfig)`);
              return;
            }
            parsedChecks.push({
              name: c.name,
              command: c.command,
              timeout: typeof c.timeout === 'number' ? c.timeout : 10,
              interval: typeof c.interval === 'number' ? c.interval : 60,
              subscriptions: Array.isArray(c.subscriptions) ? c.subscriptions.map(String) : [],
            });
          });
        const actions = (js.actions ?? {}) as Component['actions'];
        comps.push({
          value: {
            name,
            repository: typeof js.repository === 'string' ? js.repository : '',
            platform: platform as Platform,
            owner: typeof js.owner === 'string' ? js.owner : '',
            puppetRole: typeof js.puppet_role === 'string' ? js.puppet_role : null,
            hiera: (js.hiera ?? {}) as Record<string, unknown>,
            checks: parsedChecks,
            deployParams: (js.deploy_params ?? {}) as Record<string, unknown>,
            actions,
            dependsOn: Array.isArray(dependsOn) ? dependsOn.map(String) : [],
            placements: Object.fromEntries(Object.entries(placements).map(([e, rs]) => [e, Array.isArray(rs) ? rs.map(String) : []])),
            source: f.path,
          },
          at: pos(nameNode),
        });
      }
    }
  }

  // Duplicates, across files too.
  for (const [kind, list] of [['environment', envs], ['region', regions], ['component', comps]] as const) {
    const first = new Map<string, Located<unknown>['at']>();
    for (const x of list as Located<{ name: string }>[]) {
      const prev = first.get(x.value.name);
      if (prev) problems.push({ ...x.at, message: `${kind} ${x.value.name} is defined twice (first at ${prev.file}:${prev.line}:${prev.column})` });
      else first.set(x.value.name, x.at);
    }
  }
  // References.
  const known = { component: new Set(comps.map((c) => c.value.name)), environment: new Set(envs.map((e) => e.value.name)), region: new Set(regions.map((r) => r.value.name)) };
  for (const r of refs) {
    if (!known[r.kind].has(r.name)) problems.push({ ...r.at, message: `${r.what} "${r.name}", which is not defined; known ${r.kind}s: ${[...known[r.kind]].sort().join(', ') || '(none)'}` });
  }
  // Cycles, named.
  const edges = new Map(comps.map((c) => [c.value.name, c.value.dependsOn.filter((d) => known.component.has(d))]));
  const cycle = findCycle([...known.component], edges);
  if (cycle) {
    const at = comps.find((c) => c.value.name === cycle[0])!.at;
    problems.push({ ...at, message: `dependency cycle: ${cycle.join(' → ')}` });
  }
  if (problems.length) throw new SotError(problems);
  return { environments: envs.map((e) => e.value), regions: regions.map((r) => r.value), components: comps.map((c) => c.value).sort((a, b) => (a.name < b.name ? -1 : 1)) };
}
