/**
 * Pack files, content-addressed, on the Node side: the hashing and the manifest of a tree of files.
 * Shared by the CLI (which uploads only what the server lacks), ingestion and the blob store in db/.
 */
import crypto from 'node:crypto';
import type { ManifestEntry } from '../common/api-types.js';

export type { ManifestEntry } from '../common/api-types.js';

export interface PackFile {
  path: string;
  mode: number;
  content: Buffer;
}

export function sha256(b: Buffer | string): string {
  return crypto.createHash('sha256').update(b).digest('hex');
}

/** One entry per file (mode reduced to its permission bits), sorted by path. */
export function manifestOf(files: PackFile[]): ManifestEntry[] {
  return files
    .map((f) => ({ path: f.path, mode: f.mode & 0o777, sha256: sha256(f.content), size: f.content.length }))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** What identifies a pack version: the hash of its manifest. */
export function manifestHash(manifest: ManifestEntry[]): string {
  return sha256(manifest.map((m) => `${m.path}\0${m.mode.toString(8)}\0${m.sha256}\n`).join(''));
}
