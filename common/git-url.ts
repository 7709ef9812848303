/**
 * Which git sources Stackwire may fetch: the one check of a git URL, shared by the API (before a
 * workflow starts) and the workers (the real gate, before git runs). Pure: no Node, no I/O.
 *
 * Accepted: https://host/…, ssh://[user@]host/…, scp-like [user@]host:path; the host must be in the
 * allow-list when one is configured (STACKWIRE_GIT_ALLOWED_HOSTS). file://… and plain local paths only
 * when STACKWIRE_GIT_ALLOW_FILE=true. Never: git://, http://, ext::/remote-helper syntax, a URL that
 * starts with "-", or one that carries a password.
 */

export interface GitSourcePolicy {
  /** Host names (lower case) git may fetch from; empty: any host over https or ssh. */
  allowedHosts: string[];
  /** file:// URLs and local paths (repositories on the worker's own disk). */
  allowFile: boolean;
}

export interface ParsedGitUrl {
  protocol: 'https' | 'ssh' | 'file';
  /** Lower-case host name; '' for file. */
  host: string;
}

const HOST_RE = /^[a-z0-9]([a-z0-9-]{0,62})(\.[a-z0-9]([a-z0-9-]{0,62}))*$|^\[[0-9a-f:.]+\]$/i;

/** The protocol and host of a git URL as git itself would read it, or an error saying why it is not one. */
export function parseGitUrl(url: string): ParsedGitUrl | { error: string } {
  if (url === '' || /[\s\0-\x1f\x7f]/.test(url)) return { error: 'a git URL may not be empty or hold spaces or control characters' };
  if (url.startsWith('-')) return { error: 'a git URL may not start with "-"' };
  // <transport>::<address> runs a remote helper (ext:: runs any command): never.
  if (/^[A-Za-z][A-Za-z0-9+.-]*::/.test(url)) return { error: 'the <transport>::<address> form (remote helpers such as ext::) is not allowed' };
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(url);
  if (scheme) {
    const protocol = scheme[1].toLowerCase();
    if (protocol === 'file') return { protocol: 'file', host: '' };
    if (protocol !== 'https' && protocol !== 'ssh')
      return { error: `${protocol}:// is not allowed (unencrypted or unauthenticated); use https:// or ssh:// (or user@host:path)` };
    const authority = url.slice(scheme[0].length).split('/')[0];
    if (/^[^@]*:[^@]*@/.test(authority))
      return {
        error:
          'the git URL holds a password or token (https://user:secret@…), which would be stored in workflow history and the catalog; give the workers access instead: a credential helper, a deploy key (ssh://…), or a read-only mirror',
      };
    const host = authority
      .replace(/^[^@]*@/, '')
      .replace(/:\d+$/, '')
      .toLowerCase();
    if (!HOST_RE.test(host)) return { error: `${JSON.stringify(host)} is not a host name` };
    return { protocol, host };
  }
  // scp-like: [user@]host:path, where the host part holds no "/" (git's own rule).
  const scp = /^(?:([^@/:]+)@)?(\[[^\]/]+\]|[^@/:[\]]+):(.*)$/.exec(url);
  if (scp && scp[3] !== '' && !scp[3].startsWith(':')) {
    const host = scp[2].toLowerCase();
    if (!HOST_RE.test(host)) return { error: `${JSON.stringify(scp[2])} is not a host name` };
    return { protocol: 'ssh', host };
  }
  if (url.includes('://')) return { error: 'not a git URL' };
  // Anything else git reads as a path on the local disk.
  return { protocol: 'file', host: '' };
}

/** Undefined when the URL may be fetched under the policy; otherwise what is wrong and what to do. */
export function gitUrlProblem(url: string, policy: GitSourcePolicy): string | undefined {
  const p = parseGitUrl(url);
  if ('error' in p) return `git source ${JSON.stringify(url)}: ${p.error}.`;
  if (p.protocol === 'file') {
    if (!policy.allowFile)
      return `git source ${JSON.stringify(url)} is a repository on the worker's own disk (file:// or a path), which is refused: use an https:// or ssh:// URL, or set STACKWIRE_GIT_ALLOW_FILE=true on the workers and the API to allow local repositories.`;
    return undefined;
  }
  if (policy.allowedHosts.length > 0 && !policy.allowedHosts.includes(p.host))
    return `git source ${JSON.stringify(url)}: host ${p.host} is not in STACKWIRE_GIT_ALLOWED_HOSTS (${policy.allowedHosts.join(', ')}); add it there or use a repository on an allowed host.`;
  return undefined;
}

/** GIT_ALLOW_PROTOCOL for git itself under the policy: git refuses every other transport, also in redirects and submodules. */
export function gitAllowProtocol(policy: GitSourcePolicy): string {
  return policy.allowFile ? 'https:ssh:file' : 'https:ssh';
}

/**
 * The same repository under two URLs (https, ssh, scp-like, with or without `.git`, any case of the
 * host): host and path compared. GitHub's push names its repository by every URL it has.
 */
export function sameRepository(a: string, b: string): boolean {
  const key = (u: string): string => {
    const scp = /^(?:[^@/:]+@)?([^@/:[\]]+):(?!\/)(.*)$/.exec(u);
    let host = '';
    let p = '';
    if (!u.includes('://') && scp) [host, p] = [scp[1], scp[2]];
    else {
      const m = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/(?:[^@/]*@)?([^/]*)(\/.*)?$/.exec(u);
      if (!m) return u;
      host = m[1].replace(/:\d+$/, '');
      p = m[2] ?? '';
    }
    return `${host.toLowerCase()}/${p.replace(/^\/+|\/+$/g, '').replace(/\.git$/, '')}`;
  };
  return key(a) === key(b);
}
