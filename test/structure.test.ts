/**
 * The layout keeps its promises: every top-level folder says what it holds and may import, every
 * workflow patch is in the versioning table, no source file grows past ~400 lines without a stated
 * reason, and SQL stays in db/. (The import layering itself is checked by `npm run lint`.)
 */
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { PROJECT_ROOT } from '../lib/config.js';

const CODE_FOLDERS = ['activities', 'api', 'bench', 'cli', 'common', 'db', 'ingest', 'lib', 'runners', 'scripts', 'sot', 'test', 'workers', 'workflows'];

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(path.join(PROJECT_ROOT, dir), { withFileTypes: true })) {
    const rel = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (!['fixtures', 'results', 'node_modules', 'packs'].includes(e.name)) out.push(...sources(rel));
    } else if (/\.(ts|py|js)$/.test(e.name)) out.push(rel);
  }
  return out;
}

test('every top-level code folder has a README saying what lives there and what it may import', (t) => {
  for (const dir of CODE_FOLDERS) {
    const readme = path.join(PROJECT_ROOT, dir, 'README.md');
    t.true(fs.existsSync(readme), `${dir}/README.md is missing`);
    if (fs.existsSync(readme) && !['test', 'bench', 'runners', 'scripts'].includes(dir)) {
      t.regex(fs.readFileSync(readme, 'utf8'), /May import/i, `${dir}/README.md does not say what the folder may import`);
    }
  }
});

test('every patched() / deprecatePatch() id in workflows/ is in the versioning table of workflows/README.md', (t) => {
  const table = fs.readFileSync(path.join(PROJECT_ROOT, 'workflows', 'README.md'), 'utf8');
  const ids = new Set<string>();
  for (const f of sources('workflows')) {
    for (const m of fs.readFileSync(path.join(PROJECT_ROOT, f), 'utf8').matchAll(/\b(?:patched|deprecatePatch)\(\s*'([^']+)'/g)) ids.add(m[1]);
  }
  t.true(ids.size >= 3, `expected the known patches, found ${[...ids].join(', ')}`);
  for (const id of ids) t.regex(table, new RegExp(`\\|\\s*\`${id}\`\\s*\\|`), `patch ${id} is not in the table of workflows/README.md`);
});

test('no source file outside the tests and the Python analyser is over 400 lines without a stated reason', (t) => {
  const exempt = new Set([path.join('ingest', 'python', 'introspect.py')]);
  const long: string[] = [];
  for (const dir of CODE_FOLDERS.filter((d) => d !== 'test')) {
    for (const f of sources(dir)) {
      if (exempt.has(f)) continue;
      const text = fs.readFileSync(path.join(PROJECT_ROOT, f), 'utf8');
      const lines = text.split('\n').length;
      // A stated reason is a "Long file:" line in the file's opening comment.
      if (lines > 400 && !/Long file:/.test(text.split('\n').slice(0, 20).join('\n'))) long.push(`${f} (${lines} lines)`);
    }
  }
  t.deepEqual(long, [], `split these, or state why they are long ("Long file: …" in the opening comment)`);
});

test('SQL lives in db/: no pool.query or client.query outside db/ and the test and benchmark harnesses', (t) => {
  const offenders: string[] = [];
  // A benchmark may build its own dataset (bench/delivery-metrics.ts seeds a year of deploys), as a test does.
  for (const dir of CODE_FOLDERS.filter((d) => !['db', 'test', 'bench'].includes(d))) {
    for (const f of sources(dir)) {
      const text = fs.readFileSync(path.join(PROJECT_ROOT, f), 'utf8');
      if (/\b(pool|client)\.query\(/.test(text)) offenders.push(f);
    }
  }
  t.deepEqual(offenders, []);
});
