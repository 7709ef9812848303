/**
 * Puts the exact pack version a run names on this worker's disk: fetched from Postgres, every file
 * verified by its sha256, written to a private folder and renamed into <run dir>/packs in one step.
 * Scripts run from there (by absolute path), so sibling modules of the pack resolve too. The files
 * belong to the worker's user and are readable, never writable, by the run user: folders 0755,
 * files 0644 (0755 when executable).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { PackRef } from '../common/types.js';
import { loadPackVersion, sha256 } from '../db/packs.js';
import type { Pool } from '../db/pool.js';

const inflight = new Map<string, Promise<string>>();

export function packDir(packsDir: string, ref: PackRef): string {
  return path.join(packsDir, ref.pack, ref.manifestHash);
}

async function build(pool: Pool, packsDir: string, ref: PackRef): Promise<string> {
  const target = packDir(packsDir, ref);
  if (fs.existsSync(path.join(target, '.stackwire-complete'))) return target;
  const { manifest, contents } = await loadPackVersion(pool, ref);
  const parent = path.dirname(target);
  fs.mkdirSync(parent, { recursive: true, mode: 0o755 });
  fs.chmodSync(parent, 0o755);
  const tmp = fs.mkdtempSync(path.join(parent, `.tmp-${crypto.randomBytes(4).toString('hex')}-`));
  try {
    for (const m of manifest) {
      const content = contents.get(m.sha256);
      if (!content) throw new Error(`pack ${ref.pack}: the content of ${m.path} (${m.sha256}) is missing from the store`);
      if (sha256(content) !== m.sha256) throw new Error(`pack ${ref.pack}: ${m.path} does not match its hash; refusing to run it`);
      const file = path.join(tmp, m.path);
      if (!file.startsWith(tmp + path.sep)) throw new Error(`pack ${ref.pack}: ${m.path} points outside the pack`);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, content);
      // Explicit modes, whatever the umask: readable by the run user, writable by nobody but us.
      fs.chmodSync(file, m.mode & 0o111 ? 0o755 : 0o644);
    }
    for (const d of dirsUnder(tmp)) fs.chmodSync(d, 0o755);
    fs.writeFileSync(path.join(tmp, '.stackwire-complete'), `${ref.pack} v${ref.version} ${ref.manifestHash}\n`, { mode: 0o644 });
    try {
      fs.renameSync(tmp, target);
    } catch (err) {
      // Another worker process on this machine finished first: theirs is identical.
      if (!fs.existsSync(path.join(target, '.stackwire-complete'))) throw err;
      fs.rmSync(tmp, { recursive: true, force: true });
    }
    return target;
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

function dirsUnder(root: string): string[] {
  return [
    root,
    ...fs
      .readdirSync(root, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .flatMap((e) => dirsUnder(path.join(root, e.name))),
  ];
}

/** The pack version's folder under packsDir (<run dir>/packs), materialised once per worker machine. */
export function materializePack(pool: Pool, packsDir: string, ref: PackRef): Promise<string> {
  const key = `${packsDir}/${ref.pack}/${ref.manifestHash}`;
  let p = inflight.get(key);
  if (!p) {
    p = build(pool, packsDir, ref).finally(() => inflight.delete(key));
    inflight.set(key, p);
  }
  return p;
}
