/**
 * Per-component platform settings in the source of truth (README: Source of truth, Platforms): where a
 * component's KVM domains, vSphere VMs, Docker containers or bare-metal hosts are in each region, and
 * how to reach them. Validated like the rest, every problem at its file, line and column. Secrets are
 * never written in the files: a field that holds one takes a reference, `secret:<name>`.
 */
import { isMap, isScalar, isSeq, type Node as YamlNode, type YAMLMap } from 'yaml';
import { SECRET_REF, type PlatformSettings } from '../common/platform-types.js';

export const PLATFORMS = ['bare-metal', 'kvm', 'vsphere', 'docker'] as const;
export type Platform = (typeof PLATFORMS)[number];

export type { BareMetalSettings, DockerSettings, KvmSettings, PlatformSettings, VsphereSettings } from '../common/platform-types.js';

/** The component field that holds a platform's settings. */
export const PLATFORM_KEY: Record<Platform, string> = { kvm: 'kvm', vsphere: 'vsphere', docker: 'docker', 'bare-metal': 'bare_metal' };

const DOMAIN = /^[A-Za-z0-9_.+-]{1,64}$/;
const HOST = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$|^\d{1,3}(\.\d{1,3}){3}$/;
const IMAGE = /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?::\d+)?(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/;
const CONTAINER = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;
const PORT_MAP = /^(\d{1,5}):(\d{1,5})(\/(tcp|udp))?$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const USER = /^[a-z_][a-z0-9_.-]{0,31}$/;

type Problem = (node: YamlNode | null | undefined, message: string) => void;

function field(map: YAMLMap, key: string): { key: YamlNode; value: YamlNode | null } | undefined {
  const p = map.items.find((x) => isScalar(x.key) && String(x.key.value) === key);
  return p ? { key: p.key as YamlNode, value: p.value as YamlNode | null } : undefined;
}

/**
 * Parses `<platform>:` of a component. `regions` are the regions it is placed in (any environment):
 * every per-region map must cover each of them and name no other.
 */
export function parsePlatformSettings(component: string, platform: Platform, item: YAMLMap, regions: string[], problem: Problem): PlatformSettings | undefined {
  for (const [p, key] of Object.entries(PLATFORM_KEY))
    if (p !== platform && field(item, key)) problem(field(item, key)!.key, `component ${component}: ${key} settings do not apply to platform ${platform}`);
  const key = PLATFORM_KEY[platform];
  const f = field(item, key);
  if (!f) return undefined;
  const node = f.value;
  const where = `component ${component}: ${key}`;
  if (!isMap(node)) {
    problem(node ?? f.key, `${where} must be a mapping of its settings`);
    return undefined;
  }
  const allowed: Record<Platform, string[]> = {
    kvm: ['uri', 'domains', 'keep_snapshots'],
    vsphere: ['endpoint', 'username', 'password', 'vms', 'keep_snapshots'],
    docker: ['endpoint', 'image', 'container', 'ports', 'env', 'health_timeout'],
    'bare-metal': ['hosts', 'ssh_user', 'ssh_key', 'known_hosts', 'port'],
  };
  for (const p of node.items) {
    const k = isScalar(p.key) ? String(p.key.value) : '';
    if (!allowed[platform].includes(k)) problem(p.key as YamlNode, `${where}: unknown field "${k}"; allowed: ${allowed[platform].join(', ')}`);
  }
  const get = (k: string) => field(node, k);
  const required = (k: string, what: string): YamlNode | undefined => {
    const v = get(k);
    if (!v || v.value === null) {
      problem(v?.key ?? f.key, `${where}.${k} is required (${what})`);
      return undefined;
    }
    return v.value;
  };
  const str = (k: string, what: string, re: RegExp, optional?: string): string => {
    const n = optional !== undefined ? get(k)?.value : required(k, what);
    if (n === undefined || n === null) return optional ?? '';
    const v = isScalar(n) ? n.value : undefined;
    if (typeof v !== 'string' || !re.test(v)) {
      problem(n, `${where}.${k}: ${JSON.stringify(isScalar(n) ? n.value : n.toJSON())} is not ${what}`);
      return '';
    }
    return v;
  };
  const int = (k: string, def: number, min: number, max: number): number => {
    const n = get(k)?.value;
    if (n === undefined || n === null) return def;
    const v = isScalar(n) ? n.value : undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      problem(n, `${where}.${k} is a whole number from ${min} to ${max}`);
      return def;
    }
    return v;
  };
  /** A per-region map: each placed region covered, no other; values checked by `each`. */
  const perRegion = <T>(k: string, what: string, each: (v: YamlNode, region: string) => T | undefined): Record<string, T> => {
    const n = required(k, `${what}, per region`);
    const out: Record<string, T> = {};
    if (!n) return out;
    if (!isMap(n)) {
      problem(n, `${where}.${k} maps each region to ${what}`);
      return out;
    }
    for (const p of n.items) {
      const region = isScalar(p.key) ? String(p.key.value) : '';
      if (!regions.includes(region)) {
        problem(p.key as YamlNode, `${where}.${k}: the component is not placed in region "${region}" (it is in ${regions.join(', ') || 'none'})`);
        continue;
      }
      const v = each(p.value as YamlNode, region);
      if (v !== undefined) out[region] = v;
    }
    for (const r of regions)
      if (!(r in out) && !n.items.some((p) => isScalar(p.key) && String(p.key.value) === r))
        problem(n, `${where}.${k} has no entry for region ${r}, where the component is placed`);
    return out;
  };
  const scalarOf = (v: YamlNode, re: RegExp, what: string, path: string): string | undefined => {
    const s = isScalar(v) ? v.value : undefined;
    if (typeof s === 'string' && re.test(s)) return s;
    problem(v, `${where}.${path}: ${JSON.stringify(isScalar(v) ? v.value : v?.toJSON())} is not ${what}`);
    return undefined;
  };
  const listOf = (v: YamlNode, re: RegExp, what: string, path: string): string[] | undefined => {
    if (!isSeq(v) || v.items.length === 0) {
      problem(v, `${where}.${path} is a non-empty list of ${what}`);
      return undefined;
    }
    const out: string[] = [];
    for (const x of v.items as YamlNode[]) {
      const s = scalarOf(x, re, what, path);
      if (s !== undefined) {
        if (out.includes(s)) problem(x, `${where}.${path} lists ${s} twice`);
        out.push(s);
      }
    }
    return out;
  };
  switch (platform) {
    case 'kvm':
      return {
        platform,
        kvm: {
          uri: perRegion('uri', 'a libvirt URI', (v, r) =>
            scalarOf(v, /^[a-z][a-z0-9+]*:\/\/[^\s]*$/, 'a libvirt URI (e.g. qemu+ssh://virt-1/system)', `uri.${r}`),
          ),
          domains: perRegion('domains', 'the domain names', (v, r) => listOf(v, DOMAIN, 'libvirt domain names', `domains.${r}`)),
          keepSnapshots: int('keep_snapshots', 3, 1, 50),
        },
      };
    case 'vsphere':
      return {
        platform,
        vsphere: {
          endpoint: perRegion('endpoint', 'a vCenter URL', (v, r) =>
            scalarOf(v, /^https?:\/\/[^\s/]+(\/[^\s]*)?$/, 'a vCenter URL (https://vcenter.example.com)', `endpoint.${r}`),
          ),
          username: str('username', 'the vCenter user', /^[^\s]{1,256}$/),
          password: str('password', 'a secret reference, secret:<name> (secrets are never written in the source of truth)', SECRET_REF),
          vms: perRegion('vms', 'VM inventory paths', (v, r) => listOf(v, /^\/[^\0\n]+[^/]$/, 'VM inventory paths (/Datacenter/vm/folder/name)', `vms.${r}`)),
          keepSnapshots: int('keep_snapshots', 3, 1, 50),
        },
      };
    case 'docker': {
      const envNode = get('env')?.value;
      const env: Record<string, string> = {};
      if (envNode && !isMap(envNode)) problem(envNode, `${where}.env maps variable names to values (or secret:<name>)`);
      else if (envNode)
        for (const p of envNode.items) {
          const k = isScalar(p.key) ? String(p.key.value) : '';
          if (!ENV_NAME.test(k)) problem(p.key as YamlNode, `${where}.env: ${JSON.stringify(k)} is not a variable name`);
          const v = isScalar(p.value) ? p.value.value : undefined;
          if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean')
            problem(p.value as YamlNode, `${where}.env.${k} is a value or secret:<name>`);
          else if (typeof v === 'string' && v.startsWith('secret:') && !SECRET_REF.test(v))
            problem(p.value as YamlNode, `${where}.env.${k}: ${v} is not a secret reference (secret:<name>)`);
          else env[k] = String(v);
        }
      const portsNode = get('ports')?.value;
      let ports: string[] = [];
      if (portsNode) {
        if (!isSeq(portsNode)) problem(portsNode, `${where}.ports is a list of host:container[/tcp|/udp]`);
        else {
          ports = (portsNode.items as YamlNode[]).flatMap((x) => {
            const s = isScalar(x) ? String(x.value) : '';
            const m = PORT_MAP.exec(s);
            if (!m || Number(m[1]) < 1 || Number(m[1]) > 65535 || Number(m[2]) < 1 || Number(m[2]) > 65535) {
              problem(x, `${where}.ports: ${JSON.stringify(s)} is not host:container[/tcp|/udp] with ports 1–65535`);
              return [];
            }
            return [s];
          });
        }
      }
      return {
        platform,
        docker: {
          endpoint: perRegion('endpoint', 'a Docker Engine endpoint', (v, r) => {
            if (isScalar(v) && typeof v.value === 'string' && /^https:\/\//.test(v.value)) {
              problem(
                v,
                `${where}.endpoint.${r}: ${v.value}: TLS to the Docker Engine is not supported yet; reach the engine over unix:// on its host, or tcp:// (plain HTTP) on a network only the worker reaches`,
              );
              return undefined;
            }
            return scalarOf(
              v,
              /^(unix:\/\/\/[^\s]+|(tcp|http):\/\/[^\s/]+(:\d+)?\/?)$/,
              'a Docker Engine endpoint (unix:///var/run/docker.sock, tcp://host:2375)',
              `endpoint.${r}`,
            );
          }),
          image: str('image', 'an image repository without a tag (the tag is the version deployed)', IMAGE),
          container: str('container', 'a container name', CONTAINER),
          ports,
          env,
          healthTimeout: int('health_timeout', 60, 1, 3600),
        },
      };
    }
    case 'bare-metal': {
      const khNode = required('known_hosts', 'known_hosts lines of the hosts: host keys are always checked');
      const knownHosts = khNode && isScalar(khNode) && typeof khNode.value === 'string' ? khNode.value : '';
      if (khNode && !knownHosts.trim()) problem(khNode, `${where}.known_hosts holds the hosts' known_hosts lines (ssh-keyscan HOST)`);
      const hosts = perRegion('hosts', 'host names', (v, r) => listOf(v, HOST, 'host names or IPv4 addresses', `hosts.${r}`));
      const listed = new Set(
        knownHosts
          .split('\n')
          .filter((l) => l.trim() && !l.trim().startsWith('#'))
          .flatMap((l) =>
            l
              .trim()
              .split(/\s+/)[0]
              .split(',')
              .map((h) => h.replace(/^\[([^\]]+)\](:\d+)?$/, '$1')),
          ),
      );
      const hostsNode = get('hosts')?.value;
      if (knownHosts && isMap(hostsNode))
        for (const p of hostsNode.items)
          if (isSeq(p.value))
            for (const h of p.value.items as YamlNode[]) {
              const name = isScalar(h) ? String(h.value) : '';
              if (name && !listed.has(name))
                problem(h, `${where}: host ${name} has no line in known_hosts (host keys are always checked); add it (ssh-keyscan ${name})`);
            }
      return {
        platform,
        bareMetal: {
          hosts,
          sshUser: str('ssh_user', 'a user name', USER),
          sshKey: str('ssh_key', 'a secret reference, secret:<name> (secrets are never written in the source of truth)', SECRET_REF),
          knownHosts,
          port: int('port', 22, 1, 65535),
        },
      };
    }
  }
}

/** What a deploy of this component will do on its platform in a region, for plans. */
export function platformPlan(settings: PlatformSettings | undefined, region: string, version: string, platform?: string): string[] {
  if (!settings) {
    const key = PLATFORMS.includes(platform as Platform) ? PLATFORM_KEY[platform as Platform] : undefined;
    const what: Record<string, string> = {
      kvm: 'nothing is snapshotted',
      vsphere: 'nothing is snapshotted',
      docker: 'no container is replaced',
      bare_metal: 'the action and Puppet run on the worker, not on a host',
    };
    return key ? [`no ${key} settings: ${what[key]}`] : [];
  }
  switch (settings.platform) {
    case 'kvm':
      return (settings.kvm.domains[region] ?? []).map((d) => `snapshot KVM domain ${d} on ${settings.kvm.uri[region]} (keep ${settings.kvm.keepSnapshots})`);
    case 'vsphere':
      return (settings.vsphere.vms[region] ?? []).map(
        (v) => `snapshot vSphere VM ${v} on ${settings.vsphere.endpoint[region]} (keep ${settings.vsphere.keepSnapshots})`,
      );
    case 'docker':
      return [
        `pull ${settings.docker.image}:${version} on ${settings.docker.endpoint[region]}`,
        `replace container ${settings.docker.container} (health within ${settings.docker.healthTimeout}s)`,
      ];
    case 'bare-metal':
      return (settings.bareMetal.hosts[region] ?? []).map(
        (h) => `reach ${settings.bareMetal.sshUser}@${h}:${settings.bareMetal.port} over SSH (host key checked)`,
      );
  }
}
