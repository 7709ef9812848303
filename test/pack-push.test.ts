/**
 * A scripts repository follows its pushes: `stackwire pack add` ingests it from git, and a signed
 * GitHub push to its branch re-ingests it, so the changed action's new version is what runs next.
 * A push to another branch changes nothing; a redelivery starts nothing new.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { sign } from '@octokit/webhooks-methods';
import { PROJECT_ROOT } from '../lib/config.js';
import { API, cli, eventually, http, runViaApi, uniqueName } from './helpers.js';

interface Action {
  name: string;
  version: number;
  parameters: { properties: Record<string, unknown> };
}

const greet = (extra: string) => `#!/usr/bin/env python3
"""Greet someone."""
import argparse

parser = argparse.ArgumentParser(description="Greet someone.")
parser.add_argument("--name", default="world", help="who")
${extra}
args = parser.parse_args()
print("hello", args.name, "LOUDLY" if getattr(args, "loud", False) else "")
`;

async function push(delivery: string, repo: string, ref: string, after: string) {
  const all = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'node_modules', '@octokit', 'webhooks-examples', 'api.github.com', 'index.json'), 'utf8')) as {
    name: string;
    examples: Record<string, unknown>[];
  }[];
  const payload = structuredClone(all.find((e) => e.name === 'push')!.examples.find((p) => p.deleted === false && String(p.ref).startsWith('refs/heads/'))!);
  Object.assign(payload, { ref, after });
  Object.assign(payload.repository as object, { clone_url: `file://${repo}`, default_branch: 'main', master_branch: 'main' });
  const body = JSON.stringify(payload);
  const res = await fetch(`${API}/api/v1/webhooks/github`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-github-event': 'push',
      'x-github-delivery': delivery,
      'x-hub-signature-256': await sign(process.env.STACKWIRE_GITHUB_WEBHOOK_SECRET!, body),
    },
    body,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

test('a push to a scripts repository re-ingests it, and the changed action runs in its new version', async (t) => {
  const repo = fs.mkdtempSync(path.join(os.tmpdir(), 'stackwire-scripts-repo-'));
  const git = (...args: string[]) => spawnSync('git', ['-c', 'user.email=ci@example.com', '-c', 'user.name=ci', ...args], { cwd: repo, encoding: 'utf8' });
  fs.mkdirSync(path.join(repo, 'scripts'));
  fs.writeFileSync(path.join(repo, 'scripts', 'greet.py'), greet(''), { mode: 0o755 });
  git('init', '-q', '-b', 'main');
  git('add', '-A');
  git('commit', '-qm', 'greet');
  const pack = uniqueName('pushed').replace(/-/g, '_');
  const added = await cli(['pack', 'add', pack, `file://${repo}`, '--branch', 'main', '--json']);
  t.is(added.code, 0, added.stderr);
  const v1 = (await http<Action>('GET', `/api/v1/actions/${pack}.greet`)).body;
  t.is(v1.version, 1);
  t.false('loud' in v1.parameters.properties);

  // The script changes; the push reaches the webhook.
  fs.writeFileSync(path.join(repo, 'scripts', 'greet.py'), greet('parser.add_argument("--loud", action="store_true", help="shout")'));
  git('commit', '-qam', 'loud');
  const sha = git('rev-parse', 'HEAD').stdout.trim();
  const delivery = `pp-${Math.random().toString(36).slice(2, 10)}`;
  const r = await push(delivery, repo, 'refs/heads/main', sha);
  t.is(r.status, 202, JSON.stringify(r.body));
  t.deepEqual(r.body.packs, [pack]);
  const v2 = await eventually(
    async () => {
      const a = (await http<Action>('GET', `/api/v1/actions/${pack}.greet`)).body;
      return a.version === 2 ? a : undefined;
    },
    'the re-ingested version',
    120_000,
  );
  t.true('loud' in v2.parameters.properties, 'the new parameter is in the catalog');
  const { execution } = await runViaApi({ action: `${pack}.greet`, parameters: { name: 'push', loud: true } });
  t.is(execution.status, 'succeeded', execution.stderr);
  t.regex(execution.stdout, /hello push LOUDLY/, 'what runs next is the new version');

  t.is((await push(delivery, repo, 'refs/heads/main', sha)).status, 200, 'a redelivery starts nothing new');
  const other = await push(`o-${delivery}`, repo, 'refs/heads/feature', sha);
  t.regex(String(other.body.ignored), /no component of the source of truth or scripts repository uses/);
  t.is((await http<Action>('GET', `/api/v1/actions/${pack}.greet`)).body.version, 2);
});
