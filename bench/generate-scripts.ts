/** Generates a tree of realistic-looking ops scripts for the ingest benchmark (deterministic for a seed). */
import fs from 'node:fs';
import path from 'node:path';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const VERBS = ['rotate', 'drain', 'restart', 'backup', 'purge', 'check', 'sync', 'scale', 'vacuum', 'renew', 'flush', 'audit'];
const NOUNS = ['logs', 'node', 'service', 'db', 'cache', 'certs', 'queue', 'workers', 'dns', 'disk', 'cdn', 'secrets'];

function python(r: () => number, name: string): string {
  const opts = Math.floor(r() * 8) + 2;
  const lines = [
    `#!/usr/bin/env python3`,
    `"""${name.replace(/_/g, ' ')}: generated ops script for the ingest benchmark."""`,
    'import argparse',
    'import sys',
    '',
    '',
    'def build_parser():',
    `    p = argparse.ArgumentParser(description="${name}")`,
    '    p.add_argument("target", help="what to act on")',
  ];
  for (let i = 0; i < opts; i++) {
    const kind = Math.floor(r() * 5);
    if (kind === 0) lines.push(`    p.add_argument("--count-${i}", type=int, default=${Math.floor(r() * 100)}, help="a number")`);
    else if (kind === 1) lines.push(`    p.add_argument("--flag-${i}", action="store_true", help="a switch")`);
    else if (kind === 2) lines.push(`    p.add_argument("--mode-${i}", choices=["a", "b", "c"], default="a")`);
    else if (kind === 3) lines.push(`    p.add_argument("--item-${i}", action="append", default=[], help="repeatable")`);
    else lines.push(`    p.add_argument("-x${i}", "--ratio-${i}", type=float, default=0.5)`);
  }
  lines.push(
    '    return p',
    '',
    '',
    'def main():',
    '    args = build_parser().parse_args()',
    '    print(args)',
    '    return 0',
    '',
    '',
    'if __name__ == "__main__":',
    '    sys.exit(main())',
    '',
  );
  return lines.join('\n');
}

function shell(r: () => number, name: string): string {
  const letters = 'abcdefgijklm'.split('').slice(0, Math.floor(r() * 5) + 2);
  const spec = letters.map((l, i) => (i % 2 ? l : `${l}:`)).join('');
  const lines = ['#!/usr/bin/env bash', `# ${name.replace(/_/g, ' ')}: generated ops script for the ingest benchmark.`, 'set -euo pipefail'];
  letters.forEach((l, i) => lines.push(i % 2 ? `opt_${l}=0` : `opt_${l}=${i * 10}`));
  lines.push(`while getopts "${spec}" o; do`, '  case "$o" in');
  letters.forEach((l, i) => lines.push(i % 2 ? `    ${l}) opt_${l}=1 ;;` : `    ${l}) opt_${l}="$OPTARG" ;;`));
  lines.push('    *) exit 2 ;;', '  esac', 'done', 'shift $((OPTIND - 1))', 'host="$1"', 'echo "$host"', '');
  return lines.join('\n');
}

export function generateScripts(dir: string, count: number, seed = 42): void {
  const r = rng(seed);
  for (let i = 0; i < count; i++) {
    const name = `${VERBS[i % VERBS.length]}_${NOUNS[Math.floor(i / VERBS.length) % NOUNS.length]}_${i}`;
    const team = `team${i % 10}`;
    fs.mkdirSync(path.join(dir, team), { recursive: true });
    if (r() < 0.65) fs.writeFileSync(path.join(dir, team, `${name}.py`), python(r, name), { mode: 0o755 });
    else fs.writeFileSync(path.join(dir, team, `${name}.sh`), shell(r, name), { mode: 0o755 });
  }
}
