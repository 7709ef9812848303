/** A component's platform settings from the source of truth (parsed by sot/platforms.ts). Pure types. */

export interface KvmSettings {
  /** libvirt URI per region. */
  uri: Record<string, string>;
  /** Domain names per region. */
  domains: Record<string, string[]>;
  /** Stackwire snapshots kept per domain (older ones are deleted). */
  keepSnapshots: number;
}

export interface VsphereSettings {
  endpoint: Record<string, string>;
  username: string;
  /** `secret:<name>`. */
  password: string;
  /** VM inventory paths per region. */
  vms: Record<string, string[]>;
  keepSnapshots: number;
}

export interface DockerSettings {
  /** Docker Engine API endpoint per region: unix://…, tcp://…, http(s)://…. */
  endpoint: Record<string, string>;
  /** The image repository; the tag is the version deployed. */
  image: string;
  container: string;
  /** host:container[/tcp|/udp]. */
  ports: string[];
  /** Values, or `secret:<name>`. */
  env: Record<string, string>;
  /** Seconds to wait for the container's health check. */
  healthTimeout: number;
}

export interface BareMetalSettings {
  hosts: Record<string, string[]>;
  sshUser: string;
  /** `secret:<name>`. */
  sshKey: string;
  /** known_hosts lines: host keys are always checked. */
  knownHosts: string;
  port: number;
}

export type PlatformSettings =
  | { platform: 'kvm'; kvm: KvmSettings }
  | { platform: 'vsphere'; vsphere: VsphereSettings }
  | { platform: 'docker'; docker: DockerSettings }
  | { platform: 'bare-metal'; bareMetal: BareMetalSettings };

/** A secret reference in platform settings: the value is kept apart, never in the source of truth's files. */
export const SECRET_REF = /^secret:[a-z0-9][a-z0-9_.-]{0,62}$/;
