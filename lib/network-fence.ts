/**
 * Scripts must not reach Stackwire's own services: a worker that runs them as an unprivileged user
 * installs an nftables rule that rejects that user's TCP connections to the database and to Temporal
 * (the API stays reachable: it needs a key, and service checks call it). One table per fence
 * (named by its content), replaced atomically, so several workers of a host agree.
 */
import crypto from 'node:crypto';
import dns from 'node:dns/promises';
import net from 'node:net';
import { runProcess } from './spawn.js';

export interface FenceTarget {
  /** What it is, for the log: "database", "temporal". */
  what: string;
  host: string;
  port: number;
}

export interface FenceResult {
  ok: boolean;
  table?: string;
  /** Why it could not be installed (nft missing, no CAP_NET_ADMIN …). */
  problem?: string;
  fenced: string[];
}

async function addresses(host: string): Promise<string[]> {
  if (net.isIP(host)) return [host];
  if (host === 'localhost') return ['127.0.0.1', '::1'];
  try {
    return [...new Set((await dns.lookup(host, { all: true })).map((a) => a.address))];
  } catch {
    return [];
  }
}

/** The nft script for a fence: a table of its own with one rule per address and port. */
export async function fenceScript(uid: number, targets: FenceTarget[]): Promise<{ table: string; script: string; fenced: string[] }> {
  const rules: string[] = [];
  const fenced: string[] = [];
  for (const t of targets) {
    for (const a of await addresses(t.host)) {
      rules.push(`    meta skuid ${uid} ${net.isIPv6(a) ? 'ip6' : 'ip'} daddr ${a} tcp dport ${t.port} reject with tcp reset`);
      fenced.push(`${t.what} ${net.isIPv6(a) ? `[${a}]` : a}:${t.port}`);
    }
  }
  const table = `stackwire_${crypto.createHash('sha256').update(rules.join('\n')).digest('hex').slice(0, 12)}`;
  const script = [
    `add table inet ${table}`,
    `delete table inet ${table}`,
    `table inet ${table} {`,
    '  chain fence {',
    '    type filter hook output priority 0; policy accept;',
    ...rules,
    '  }',
    '}',
    '',
  ].join('\n');
  return { table, script, fenced };
}

export async function installFence(uid: number, targets: FenceTarget[], env: Record<string, string>): Promise<FenceResult> {
  const { table, script, fenced } = await fenceScript(uid, targets);
  if (fenced.length === 0) return { ok: false, problem: 'no address to fence', fenced };
  const r = await runProcess({ argv: ['nft', '-f', '-'], stdin: script, env, timeoutMs: 15_000 });
  if (r.spawnError) return { ok: false, problem: `nft is not installed (${r.spawnError.message}); install Debian's nftables`, fenced };
  if (r.code !== 0) return { ok: false, problem: `nft failed (exit ${r.code}): ${r.stderr.trim().split('\n').slice(-2).join(' ')}`, fenced };
  return { ok: true, table, fenced };
}

/** Removes a fence (when the stack that needed it stops); a fence that is not there is fine. */
export async function removeFence(uid: number, targets: FenceTarget[], env: Record<string, string>): Promise<void> {
  const { table } = await fenceScript(uid, targets);
  await runProcess({ argv: ['nft', 'delete', 'table', 'inet', table], env, timeoutMs: 15_000 });
}

/** The fence targets of a stack: its database and its Temporal frontend. */
export function stackFenceTargets(databaseUrl: string, temporalAddress: string): FenceTarget[] {
  const db = new URL(databaseUrl);
  const cut = temporalAddress.lastIndexOf(':');
  return [
    { what: 'database', host: db.hostname.replace(/^\[|\]$/g, ''), port: Number(db.port || 5432) },
    { what: 'temporal', host: temporalAddress.slice(0, cut).replace(/^\[|\]$/g, ''), port: Number(temporalAddress.slice(cut + 1)) },
  ];
}
