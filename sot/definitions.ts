/**
 * The source of truth as the operator writes it: YAML files of environments, regions and components
 * (repository, platform, owner, Puppet role and Hiera data, Sensu checks, deploy parameters and
 * actions, placements, dependencies). Parsed and validated completely before anything is applied;
 * every problem carries file, line and column.
 */
import YAML, { LineCounter, isMap, isSeq, type Document, type Node as YamlNode } from 'yaml';
import type { CheckSpec } from '../common/deploy.js';
import { findCycle } from '../common/graph.js';
import { ACTION_NAME, CHECK_NAME, PUPPET_CLASS, SOT_NAME } from '../common/validation.js';
import { PLATFORM_KEY, PLATFORMS, parsePlatformSettings, type Platform, type PlatformSettings } from './platforms.js';

export { PLATFORMS, type Platform } from './platforms.js';

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
  /** Where the component runs on its platform, per region (sot/platforms.ts); absent: the deploy action and Puppet only. */
  platformSettings?: PlatformSettings;
  source: string;
}

export interface SourceOfTruth {
  /** `protected`: production — deploying needs the deployer role and an approval gate decided by someone else (four eyes). */
  environments: { name: string; description: string; protected?: boolean }[];
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
    super(
      `the source of truth has ${problems.length} problem(s); nothing was applied:\n${problems.map((p) => `  ${p.file}:${p.line}:${p.column}: ${p.message}`).join('\n')}`,
    );
  }
}

const COMPONENT_KEYS = new Set([
  'name',
  'repository',
  'platform',
  'owner',
  'puppet_role',
  'hiera',
  'checks',
  'deploy_params',
  'actions',
  'depends_on',
  'placements',
  'description',
  ...Object.values(PLATFORM_KEY),
]);

interface Located<T> {
  value: T;
  at: { file: string; line: number; column: number };
}

export function parseSourceOfTruth(files: { path: string; content: string }[]): SourceOfTruth {
  const problems: SotProblem[] = [];
  const envs: Located<{ name: string; description: string; protected?: boolean }>[] = [];
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
      const p = e.linePos?.[0] ?? lc.linePos(e.pos[0]);
      problems.push({ file: f.path, line: p.line, column: p.col, message: e.message.split('\n')[0] });
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
        if (typeof name !== 'string' || !SOT_NAME.test(name)) {
          problem(nameNode ?? item, `${key.slice(0, -1)} name ${JSON.stringify(name)} must be lower-case letters, digits and dashes, starting with a letter`);
          continue;
        }
        if (key === 'environments' || key === 'regions') {
          const allowed = key === 'environments' ? ['name', 'description', 'protected'] : ['name', 'description'];
          for (const p of item.items) {
            const k = String((p.key as { value?: unknown }).value);
            if (!allowed.includes(k)) problem(p.key as YamlNode, `unknown field "${k}" in ${key.slice(0, -1)} ${name}; allowed: ${allowed.join(', ')}`);
          }
          if (js.protected !== undefined && typeof js.protected !== 'boolean') {
            problem((get('protected')?.value as YamlNode | undefined) ?? item, `environment ${name}: protected is true or false`);
          }
          (key === 'environments' ? envs : regions).push({
            value: {
              name,
              description: typeof js.description === 'string' ? js.description : '',
              ...(key === 'environments' && js.protected === true ? { protected: true } : {}),
            },
            at: pos(nameNode),
          });
          continue;
        }
        for (const p of item.items) {
          const k = String((p.key as { value?: unknown }).value);
          if (!COMPONENT_KEYS.has(k)) problem(p.key as YamlNode, `unknown field "${k}" in component ${name}; allowed: ${[...COMPONENT_KEYS].join(', ')}`);
        }
        const platform = js.platform;
        if (!(PLATFORMS as readonly unknown[]).includes(platform)) {
          problem(
            (get('platform')?.value as YamlNode | undefined) ?? item,
            `component ${name}: platform ${JSON.stringify(platform)} is not one of ${PLATFORMS.join(', ')}`,
          );
        }
        if (typeof js.repository !== 'string' || js.repository === '')
          problem((get('repository')?.value as YamlNode | undefined) ?? item, `component ${name}: repository is required (the URL of its code)`);
        const dependsOn = js.depends_on ?? [];
        const depsNode = get('depends_on')?.value as YamlNode | undefined;
        if (!Array.isArray(dependsOn) || !dependsOn.every((d) => typeof d === 'string'))
          problem(depsNode ?? item, `component ${name}: depends_on must be a list of component names`);
        else if (isSeq(depsNode))
          (depsNode.items as YamlNode[]).forEach((n, i) => {
            if (dependsOn.indexOf(dependsOn[i]) !== i) problem(n, `component ${name}: depends_on lists ${String(dependsOn[i])} twice`);
            else refs.push({ kind: 'component', name: String(dependsOn[i]), at: pos(n), what: `component ${name} depends on` });
          });
        const placements = (js.placements ?? {}) as Record<string, unknown>;
        const placeNode = get('placements')?.value as YamlNode | undefined;
        if (typeof placements !== 'object' || Array.isArray(placements))
          problem(placeNode ?? item, `component ${name}: placements maps each environment to a list of regions`);
        else if (isMap(placeNode)) {
          for (const pp of placeNode.items) {
            const env = String((pp.key as { value?: unknown }).value);
            refs.push({ kind: 'environment', name: env, at: pos(pp.key as YamlNode), what: `component ${name} is placed in environment` });
            const rs = pp.value as YamlNode;
            if (!isSeq(rs)) {
              problem(rs, `component ${name}: placements.${env} must be a list of regions`);
              continue;
            }
            if (rs.items.length === 0) problem(rs, `component ${name}: placements.${env} is empty; list at least one region, or remove ${env}`);
            const seen = new Set<string>();
            for (const r of rs.items as YamlNode[]) {
              const region = String((r as { value?: unknown }).value);
              if (seen.has(region)) problem(r, `component ${name}: placements.${env} lists ${region} twice`);
              seen.add(region);
              refs.push({ kind: 'region', name: region, at: pos(r), what: `component ${name} is placed (${env}) in region` });
            }
          }
        }
        const checks = (js.checks ?? []) as Record<string, unknown>[];
        const checkNode = get('checks')?.value as YamlNode | undefined;
        const parsedChecks: CheckConfig[] = [];
        if (!Array.isArray(checks)) problem(checkNode ?? item, `component ${name}: checks must be a list of Sensu check definitions`);
        else
          checks.forEach((c, i) => {
            const at = isSeq(checkNode) ? (checkNode.items[i] as YamlNode) : item;
            if (typeof c?.name !== 'string' || !CHECK_NAME.test(c.name) || typeof c.command !== 'string' || c.command.trim() === '') {
              problem(at, `component ${name}: checks[${i}] needs a name (letters, digits, . _ -) and a command (as in a Sensu CheckConfig)`);
              return;
            }
            const field = (k: string) =>
              isMap(at) ? ((at.items.find((p) => String((p.key as { value?: unknown }).value) === k)?.value as YamlNode | undefined) ?? at) : at;
            if (parsedChecks.some((x) => x.name === c.name)) problem(field('name'), `component ${name}: two checks are named ${c.name}`);
            // Sensu: timeout 0 means none; here a check still may not run for ever, so it is capped by the health deadline.
            if (c.timeout !== undefined && !(Number.isInteger(c.timeout) && (c.timeout as number) >= 0 && (c.timeout as number) <= 3600))
              problem(field('timeout'), `component ${name}: check ${c.name}: timeout is whole seconds from 0 (none) to 3600`);
            if (c.interval !== undefined && !(Number.isInteger(c.interval) && (c.interval as number) >= 1))
              problem(field('interval'), `component ${name}: check ${c.name}: interval is whole seconds, at least 1`);
            if (c.subscriptions !== undefined && !(Array.isArray(c.subscriptions) && c.subscriptions.every((x) => typeof x === 'string')))
              problem(field('subscriptions'), `component ${name}: check ${c.name}: subscriptions is a list of names`);
            parsedChecks.push({
              name: c.name,
              command: c.command,
              timeout: typeof c.timeout === 'number' ? c.timeout : 10,
              interval: typeof c.interval === 'number' ? c.interval : 60,
              subscriptions: Array.isArray(c.subscriptions) ? c.subscriptions.map(String) : [],
            });
          });
        const mapping = (k: string, what: string) => {
          const v = js[k];
          if (v === undefined || v === null) return {};
          if (typeof v !== 'object' || Array.isArray(v)) {
            problem((get(k)?.value as YamlNode | undefined) ?? item, `component ${name}: ${k} must be a mapping (${what})`);
            return {};
          }
          return v as Record<string, unknown>;
        };
        for (const k of ['owner', 'puppet_role', 'description'] as const) {
          if (js[k] !== undefined && js[k] !== null && typeof js[k] !== 'string')
            problem((get(k)?.value as YamlNode | undefined) ?? item, `component ${name}: ${k} must be a string`);
        }
        if (typeof js.puppet_role === 'string' && !PUPPET_CLASS.test(js.puppet_role))
          problem(
            (get('puppet_role')?.value as YamlNode | undefined) ?? item,
            `component ${name}: puppet_role ${JSON.stringify(js.puppet_role)} is not a Puppet class name (e.g. role::postgres)`,
          );
        const hiera = mapping('hiera', 'Hiera keys and values');
        const deployParams = mapping('deploy_params', "the deploy action's parameter values");
        const actionsRaw = mapping('actions', 'build, deploy and rollback, each an action name');
        const actionsNode = get('actions')?.value as YamlNode | undefined;
        const actions: Component['actions'] = {};
        for (const [k, v] of Object.entries(actionsRaw)) {
          const at = isMap(actionsNode)
            ? ((actionsNode.items.find((p) => String((p.key as { value?: unknown }).value) === k)?.key as YamlNode | undefined) ?? actionsNode)
            : item;
          if (!['build', 'deploy', 'rollback'].includes(k)) problem(at, `component ${name}: actions.${k} is not known; use build, deploy or rollback`);
          else if (typeof v !== 'string' || !ACTION_NAME.test(v))
            problem(at, `component ${name}: actions.${k} must be an action name such as deploykit.deploy_artifact`);
          else actions[k as keyof Component['actions']] = v;
        }
        const placedIn = [...new Set(Object.values(placements).flatMap((rs) => (Array.isArray(rs) ? rs.map(String) : [])))];
        const platformSettings = (PLATFORMS as readonly unknown[]).includes(platform)
          ? parsePlatformSettings(name, platform as Platform, item, placedIn, problem)
          : undefined;
        comps.push({
          value: {
            name,
            repository: typeof js.repository === 'string' ? js.repository : '',
            platform: platform as Platform,
            owner: typeof js.owner === 'string' ? js.owner : '',
            puppetRole: typeof js.puppet_role === 'string' ? js.puppet_role : null,
            hiera,
            checks: parsedChecks,
            deployParams,
            actions,
            dependsOn: Array.isArray(dependsOn) ? dependsOn.map(String) : [],
            placements: Object.fromEntries(Object.entries(placements).map(([e, rs]) => [e, Array.isArray(rs) ? rs.map(String) : []])),
            ...(platformSettings ? { platformSettings } : {}),
            source: f.path,
          },
          at: pos(nameNode),
        });
      }
    }
  }

  // Duplicates, across files too.
  for (const [kind, list] of [
    ['environment', envs],
    ['region', regions],
    ['component', comps],
  ] as const) {
    const first = new Map<string, Located<unknown>['at']>();
    for (const x of list as Located<{ name: string }>[]) {
      const prev = first.get(x.value.name);
      if (prev) problems.push({ ...x.at, message: `${kind} ${x.value.name} is defined twice (first at ${prev.file}:${prev.line}:${prev.column})` });
      else first.set(x.value.name, x.at);
    }
  }
  // References.
  const known = {
    component: new Set(comps.map((c) => c.value.name)),
    environment: new Set(envs.map((e) => e.value.name)),
    region: new Set(regions.map((r) => r.value.name)),
  };
  for (const r of refs) {
    if (!known[r.kind].has(r.name))
      problems.push({ ...r.at, message: `${r.what} "${r.name}", which is not defined; known ${r.kind}s: ${[...known[r.kind]].sort().join(', ') || '(none)'}` });
  }
  // Cycles, named.
  const edges = new Map(comps.map((c) => [c.value.name, c.value.dependsOn.filter((d) => known.component.has(d))]));
  const cycle = findCycle([...known.component], edges);
  if (cycle) {
    const at = comps.find((c) => c.value.name === cycle[0])!.at;
    problems.push({ ...at, message: `dependency cycle: ${cycle.join(' → ')}` });
  }
  if (problems.length) throw new SotError(problems);
  return {
    environments: envs.map((e) => e.value),
    regions: regions.map((r) => r.value),
    components: comps.map((c) => c.value).sort((a, b) => (a.name < b.name ? -1 : 1)),
  };
}
