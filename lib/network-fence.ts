/**
 * Scripts must not reach Stackwire's own services: a worker that runs them as an unprivileged user
 * installs an nftables rule that rejects that user's TCP connections to the database and to Temporal
 * (the API stays reachable: it needs a key, and service checks call it). One table per fence
 * (named by its content), replaced atomically, so several workers of a host agree.
 */
import crypto from 'node:crypto';
import dns from 'node:dns/promises';
import fs from 'node:fs';
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

/**
 * The system's nft, by absolute path: never looked up in PATH, where `npm start` and `npm test` put
 * node_modules/.bin first — and @vercel/nft (a test-runner dependency) installs a `nft` there that
 * exits 0 without touching the firewall. That was why the fence "vanished".
 */
export const NFT_PATHS = ['/usr/sbin/nft', '/sbin/nft', '/usr/bin/nft'];

export function nftBinary(): string | undefined {
  return NFT_PATHS.find((f) => fs.existsSync(f));
}

const lastLine = (s: string) => s.trim().split('\n').slice(-2).join(' ');

export async function installFence(uid: number, targets: FenceTarget[], env: Record<string, string>): Promise<FenceResult> {
  const { table, script, fenced } = await fenceScript(uid, targets);
  if (fenced.length === 0) return { ok: false, problem: 'no address to fence', fenced };
  const nft = nftBinary();
  if (!nft) return { ok: false, problem: `nft is not installed (looked for ${NFT_PATHS.join(', ')}); install Debian's nftables`, fenced };
  const r = await runProcess({ argv: [nft, '-f', '-'], stdin: script, env, timeoutMs: 15_000 });
  if (r.spawnError) return { ok: false, problem: `${nft} could not be started: ${r.spawnError.message}`, fenced };
  if (r.code !== 0) return { ok: false, problem: `nft failed (exit ${r.code}): ${lastLine(r.stderr)}`, fenced };
  // Trust, but verify: the table must be in the kernel's ruleset with one rule per fenced address.
  const check = await fenceInPlace(uid, targets, env);
  if (!check.ok) return { ok: false, problem: `nft reported success but ${check.problem}`, fenced };
  return { ok: true, table, fenced };
}

/** Whether the fence for these targets is in the kernel's ruleset right now, with all its rules. */
export async function fenceInPlace(uid: number, targets: FenceTarget[], env: Record<string, string>): Promise<{ ok: boolean; problem?: string }> {
  const { table, fenced } = await fenceScript(uid, targets);
  const nft = nftBinary();
  if (!nft) return { ok: false, problem: 'nft is not installed' };
  const r = await runProcess({ argv: [nft, 'list', 'table', 'inet', table], env, timeoutMs: 15_000 });
  if (r.code !== 0) return { ok: false, problem: `table inet ${table} is not in the ruleset (${lastLine(r.stderr) || `exit ${r.code}`})` };
  const rules = r.stdout.split('\n').filter((l) => l.includes(`meta skuid ${uid} `) && l.includes('reject')).length;
  if (rules !== fenced.length) return { ok: false, problem: `table inet ${table} holds ${rules} of its ${fenced.length} rules` };
  return { ok: true };
}

/** Removes a fence (when the stack that needed it stops); a fence that is not there is fine. */
export async function removeFence(uid: number, targets: FenceTarget[], env: Record<string, string>): Promise<void> {
  const { table } = await fenceScript(uid, targets);
  const nft = nftBinary();
  if (nft) await runProcess({ argv: [nft, 'delete', 'table', 'inet', table], env, timeoutMs: 15_000 });
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
