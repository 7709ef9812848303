#!/usr/bin/env node
// Runs before anything is installed, so it uses Node built-ins only. It installs dependencies when
// they are missing or stale, builds when sources changed, then hands over to dist/scripts/<job>.js.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const jobs = { start: 'start', test: 'test', bench: 'bench' };
const job = jobs[process.argv[2]];
if (!job) {
  process.stderr.write(`usage: node scripts/bootstrap.js (start|test|bench)\n`);
  process.exit(2);
}
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 19)) {
  process.stderr.write(`stackwire: Node.js ${process.versions.node} is too old; install Node.js 20.19 or newer.\n`);
  process.exit(1);
}
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function run(cmd, args, what) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    process.stderr.write(`stackwire: ${what} failed (${r.error ? r.error.message : `exit ${r.status}`}).\n`);
    process.exit(1);
  }
}

function mtime(p) {
  try {
    return fs.statSync(p).mtimeMs;
  } catch {
    return 0;
  }
}

function newest(dir) {
  let m = 0;
  if (!fs.existsSync(dir)) return m;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) m = Math.max(m, newest(p));
    else if (/\.(ts|sql)$/.test(e.name)) m = Math.max(m, mtime(p));
  }
  return m;
}

// 1. Dependencies: exactly the lockfile's.
const installed = path.join(root, 'node_modules', '.package-lock.json');
if (mtime(installed) === 0 || mtime(path.join(root, 'package-lock.json')) > mtime(installed)) {
  process.stdout.write('[stackwire] installing dependencies (npm ci) …\n');
  run(npm, ['ci', '--no-audit', '--no-fund'], 'npm ci');
}

// 2. Build (TypeScript, then the workflow bundle) when a source is newer than the last build.
const stamp = path.join(root, 'dist', '.build-stamp');
const sources = ['lib', 'common', 'ingest', 'sot', 'workflows', 'activities', 'workers', 'api', 'db', 'cli', 'scripts', 'test', 'bench'].map((d) =>
  newest(path.join(root, d)),
);
const inputs = Math.max(...sources, mtime(path.join(root, 'tsconfig.json')), mtime(path.join(root, 'package-lock.json')));
if (mtime(stamp) < inputs) {
  process.stdout.write('[stackwire] building (tsc + workflow bundle) …\n');
  fs.rmSync(path.join(root, 'dist'), { recursive: true, force: true });
  run(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], 'TypeScript build');
  run(process.execPath, [path.join(root, 'dist', 'scripts', 'bundle-workflows.js')], 'workflow bundle');
  fs.writeFileSync(stamp, new Date().toISOString());
}

// 3. The job itself; it sees only the arguments after the job's name.
process.argv.splice(2, 1);
await import(path.join(root, 'dist', 'scripts', `${job}.js`));
