/**
 * Walks a source tree the way git sees it: .gitignore files (at any depth) are honoured, and
 * .git, node_modules, __pycache__, virtualenvs and Stackwire's own .stackwire/ output are skipped.
 */
import fs from 'node:fs';
import path from 'node:path';
import ignore, { type Ignore } from 'ignore';
import type { PackFile } from './pack-files.js';

const ALWAYS_SKIPPED = new Set(['.git', 'node_modules', '__pycache__', '.venv', 'venv', '.tox', '.mypy_cache', '.pytest_cache', '.stackwire']);
export const MAX_FILE_BYTES = 5 * 1024 * 1024;

export interface WalkResult {
  files: PackFile[];
  skipped: { path: string; reason: string }[];
}

export function walkTree(root: string, onFile?: (relPath: string) => void): WalkResult {
  const files: PackFile[] = [];
  const skipped: WalkResult['skipped'] = [];
  const visit = (dir: string, rules: { base: string; ig: Ignore }[]) => {
    const gi = path.join(dir, '.gitignore');
    const here = fs.existsSync(gi) ? [...rules, { base: dir, ig: ignore().add(fs.readFileSync(gi, 'utf8')) }] : rules;
    const entries = fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const e of entries) {
      if (ALWAYS_SKIPPED.has(e.name)) continue;
      const abs = path.join(dir, e.name);
      const ignored = here.some(({ base, ig }) => {
        const rel = path.relative(base, abs).split(path.sep).join('/');
        return ig.ignores(e.isDirectory() ? `${rel}/` : rel);
      });
      if (ignored) continue;
      const rel = path.relative(root, abs).split(path.sep).join('/');
      if (e.isDirectory()) visit(abs, here);
      else if (e.isFile()) {
        const st = fs.statSync(abs);
        if (st.size > MAX_FILE_BYTES) {
          skipped.push({ path: rel, reason: `larger than ${MAX_FILE_BYTES / 1024 / 1024} MiB` });
          continue;
        }
        files.push({ path: rel, mode: st.mode & 0o777, content: fs.readFileSync(abs) });
        onFile?.(rel);
      } else if (e.isSymbolicLink()) skipped.push({ path: rel, reason: 'symbolic link (not followed)' });
    }
  };
  visit(path.resolve(root), []);
  return { files, skipped };
}
