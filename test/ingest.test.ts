/**
 * Script ingestion through the public surfaces: the `stackwire ingest` CLI (which uploads to the
 * API), the catalog endpoints, and runs of ingested actions on regional workers.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import type { IngestCounts } from '../common/api-types.js';
import { PROJECT_ROOT } from '../lib/config.js';
import { cli, dbPool, http, runViaApi, uniqueName } from './helpers.js';

interface Report {
  pack: string;
  changes: { name: string; change: string; version?: number; details?: string[] }[];
  summary: IngestCounts;
  fileChanges: { added: string[]; changed: string[]; removed: string[] };
  drift: boolean;
  warnings: { file: string; line: number | null; message: string }[];
  unsupported: { file: string; reason: string }[];
  actions: { name: string; sourcePath: string; framework: string; yaml: string }[];
  source: Record<string, unknown>;
}

interface Action {
  name: string;
  version: number;
  description: string;
  parameters: { properties: Record<string, Record<string, unknown>>; required: string[]; exclusive?: string[][] };
  argvPrefix?: string[];
  timeoutSeconds: number;
  sourcePath?: string;
  origin?: string;
  exampleArgv: string[];
}

const pool = dbPool();
test.after.always(async () => {
  await pool.end();
});

function copyTree(from: string, name: string): string {
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'stackwire-ingest-')), name);
  fs.cpSync(from, dir, { recursive: true });
  return dir;
}

async function ingest(args: string[]): Promise<{ code: number | null; report: Report; stderr: string }> {
  const r = await cli(['ingest', ...args, '--json']);
  let report: Report;
  try {
    report = JSON.parse(r.stdout) as Report;
  } catch {
    throw new Error(`ingest printed no JSON (exit ${r.code}): ${r.stdout}\n${r.stderr}`);
  }
  return { code: r.code, report, stderr: r.stderr };
}

async function packActions(pack: string): Promise<Action[]> {
  return (await http<{ actions: Action[] }>('GET', `/api/v1/actions?pack=${pack}`)).body.actions;
}

test("the Python analyser passes its corpus and matches argparse on CPython's own command-line modules", (t) => {
  const r = spawnSync('python3', [path.join(PROJECT_ROOT, 'test', 'python', 'check_corpus.py')], { encoding: 'utf8' });
  t.is(r.status, 0, r.stdout + r.stderr);
  t.regex(r.stdout, /json\.tool: OK 9\/9/);
  t.regex(r.stdout, /http\.server: OK 5\/5/);
  t.regex(r.stdout, /^PASS$/m);
});

test('a corpus of 38 ops scripts ingests into the expected actions and parameters', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stackwire-corpus-'));
  fs.cpSync(path.join(PROJECT_ROOT, 'test', 'fixtures', 'corpus-python'), path.join(dir, 'py'), { recursive: true, filter: (p) => !p.endsWith('.json') });
  fs.cpSync(path.join(PROJECT_ROOT, 'test', 'fixtures', 'corpus-shell'), path.join(dir, 'sh'), { recursive: true });
  const pack = uniqueName('corpus').replace(/-/g, '_');
  const { code, report } = await ingest([dir, '--pack', pack]);
  t.is(code, 0);
  const scripts = fs.readdirSync(path.join(dir, 'py')).length + fs.readdirSync(path.join(dir, 'sh')).length;
  t.true(scripts === 38, `${scripts} scripts`);
  const actions = await packActions(pack);
  const got = Object.fromEntries(
    actions.map((a) => [
      a.name.slice(pack.length + 1),
      {
        description: a.description,
        parameters: a.parameters,
        ...(a.argvPrefix ? { argvPrefix: a.argvPrefix } : {}),
        source: a.sourcePath,
        example: a.exampleArgv,
      },
    ]),
  );
  const expectedFile = path.join(PROJECT_ROOT, 'test', 'fixtures', 'corpus-expected.json');
  if (process.env.STACKWIRE_UPDATE_EXPECTED === '1') fs.writeFileSync(expectedFile, `${JSON.stringify(got, null, 2)}\n`);
  const expected = JSON.parse(fs.readFileSync(expectedFile, 'utf8')) as Record<string, unknown>;
  t.deepEqual(Object.keys(got).sort(), Object.keys(expected).sort());
  for (const name of Object.keys(expected)) t.deepEqual(got[name], expected[name], name);
  // Every script that could not be understood is still an action, with a warning naming file and line.
  t.truthy(report.warnings.find((w) => w.file === 'py/broken_failover.py' && w.line === 11 && /syntax error/.test(w.message)));
  t.truthy(report.warnings.find((w) => w.file === 'sh/renew_certs.sh' && /syntax error/.test(w.message)));
  t.deepEqual(got.broken_failover?.parameters.properties.args?.type, 'array');
  t.deepEqual(got.wrap_ansible?.parameters.properties.args?.type, 'array');
});

test("CPython's json/tool.py and http/server.py yield every option argparse reports, with types and defaults", async (t) => {
  const stdlib = spawnSync('python3', ['-c', 'import sysconfig; print(sysconfig.get_paths()["stdlib"])'], { encoding: 'utf8' }).stdout.trim();
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'stackwire-stdlib-')), 'stdlib');
  fs.mkdirSync(dir);
  fs.copyFileSync(path.join(stdlib, 'json', 'tool.py'), path.join(dir, 'json_tool.py'));
  fs.copyFileSync(path.join(stdlib, 'http', 'server.py'), path.join(dir, 'http_server.py'));
  const pack = uniqueName('stdlib').replace(/-/g, '_');
  const { code } = await ingest([dir, '--pack', pack]);
  t.is(code, 0);
  // What argparse itself builds, captured by running each module's parser construction.
  const capture = `
import argparse, json, runpy, sys
class Captured(Exception): pass
def grab(self, *a, **k): raise Captured(self)
argparse.ArgumentParser.parse_args = grab
out = {}
for mod in ("json.tool", "http.server"):
    sys.argv = [mod]
    try:
        runpy.run_module(mod, run_name="__main__")
    except Captured as c:
        p = c.args[0]
        acts = []
        for a in p._actions:
            if isinstance(a, argparse._HelpAction): continue
            d = a.default
            try: json.dumps(d)
            except TypeError: d = "<non-literal>"
            acts.append({"dest": a.dest, "flags": a.option_strings, "default": d, "takes_value": a.nargs != 0, "type": getattr(a.type, "__name__", None), "kind": type(a).__name__})
        out[mod] = acts
print(json.dumps(out))`;
  const truth = JSON.parse(spawnSync('python3', ['-c', capture], { encoding: 'utf8' }).stdout) as Record<
    string,
    { dest: string; flags: string[]; default: unknown; takes_value: boolean; type: string | null; kind: string }[]
  >;
  const actions = await packActions(pack);
  const runtimeDefaults: string[] = [];
  for (const [mod, file] of [
    ['json.tool', 'json_tool'],
    ['http.server', 'http_server'],
  ] as const) {
    const action = actions.find((a) => a.name === `${pack}.${file}`);
    t.truthy(action, file);
    const props = action!.parameters.properties;
    t.true(truth[mod].length >= 4, `${mod} has options`);
    for (const a of truth[mod]) {
      // Options are found by their flag (several may share a dest), positionals by their dest.
      const entry = a.flags.length
        ? Object.entries(props).find(([, p]) => a.flags.includes(String(p.flag).replace(/=$/, '')))
        : ([a.dest, props[a.dest]] as const);
      const name = entry?.[0] ?? a.dest;
      const p = entry?.[1];
      t.truthy(p, `${mod}: ${a.flags.join('/') || a.dest} is a parameter`);
      if (!p) continue;
      if (!a.flags.length) t.is(typeof p.position, 'number', `${mod}: ${name} is positional`);
      if (!a.takes_value) t.is(p.type, 'boolean', `${mod}: ${name} is a flag`);
      else if (a.type === 'int') t.is(p.type, 'integer', `${mod}: ${name} is an integer`);
      if (a.takes_value && a.default !== null && a.default !== '<non-literal>') {
        // A default computed at run time (os.getcwd()) cannot be known statically: it must be left out, not guessed.
        if (p.default === undefined) runtimeDefaults.push(`${mod}:${name}`);
        else t.deepEqual(p.default, a.default, `${mod}: ${name} default`);
      }
    }
  }
  t.deepEqual(runtimeDefaults, ['http.server:directory'], 'only --directory (default os.getcwd()) has no static default');
});

test('re-ingest is idempotent, versions changes, marks removals, and --check/--dry-run report drift', async (t) => {
  const dir = copyTree(path.join(PROJECT_ROOT, 'test', 'fixtures', 'corpus-shell'), 'drift');
  const pack = uniqueName('drift').replace(/-/g, '_');
  const first = await ingest([dir, '--pack', pack]);
  t.is(first.code, 0);
  t.true(first.report.summary.added >= 9);
  t.true(fs.existsSync(path.join(dir, '.stackwire', 'actions', 'service_ctl.yaml')), 'reviewable YAML is written');
  const again = await ingest([dir, '--pack', pack]);
  t.is(again.report.summary.added + again.report.summary.changed + again.report.summary.removed, 0, 'unchanged scripts change nothing');
  t.false(again.report.drift);
  t.is((await ingest([dir, '--pack', pack, '--check'])).code, 0);

  // Edit one script (a new option), add one, delete one.
  const edited = path.join(dir, 'service_ctl.sh');
  fs.writeFileSync(edited, fs.readFileSync(edited, 'utf8').replace('unit="$1"', 'unit="$1"\nnotify="${3:-none}"'));
  fs.writeFileSync(path.join(dir, 'warm_cache.sh'), '#!/bin/bash\n# Warm the page cache of a site.\nurl="$1"\ncurl -s "$url" >/dev/null\n');
  fs.rmSync(path.join(dir, 'flush_dns_cache.sh'));
  const check = await ingest([dir, '--pack', pack, '--check']);
  t.is(check.code, 1, 'check fails on drift');
  const byName = (r: Report) => Object.fromEntries(r.changes.map((c) => [c.name.slice(pack.length + 1), c]));
  t.is(byName(check.report).service_ctl?.change, 'changed');
  t.deepEqual(byName(check.report).service_ctl?.details, ['parameter notify added', 'script content changed']);
  t.is(byName(check.report).warm_cache?.change, 'added');
  t.is(byName(check.report).flush_dns_cache?.change, 'removed');
  const dry = await ingest([dir, '--pack', pack, '--dry-run']);
  t.is(dry.code, 0);
  t.true(dry.report.drift);
  t.is((await ingest([dir, '--pack', pack, '--check'])).code, 1, 'a dry run changed nothing');

  const applied = await ingest([dir, '--pack', pack]);
  const changes = byName(applied.report);
  t.is(changes.service_ctl?.version, 2);
  t.is(changes.warm_cache?.version, 1);
  t.is(changes.copy_artifacts?.change, 'unchanged');
  t.is(changes.copy_artifacts?.version, 1);
  t.is((await ingest([dir, '--pack', pack, '--check'])).code, 0, 'check passes after ingest');
  // The removed action is gone from the catalog but its rows stay, so runs that used it still resolve.
  t.is((await http('GET', `/api/v1/actions/${pack}.flush_dns_cache`)).status, 404);
  const { rows } = await pool.query<{ version: number; removed: boolean }>('SELECT version, removed_at IS NOT NULL AS removed FROM actions WHERE name = $1', [
    `${pack}.flush_dns_cache`,
  ]);
  t.deepEqual(rows, [{ version: 1, removed: true }]);
  const versions = await pool.query<{ version: number; is_current: boolean }>('SELECT version, is_current FROM actions WHERE name = $1 ORDER BY version', [
    `${pack}.service_ctl`,
  ]);
  t.deepEqual(versions.rows, [
    { version: 1, is_current: false },
    { version: 2, is_current: true },
  ]);

  // A file that is no action (a sourced library, a config file) is part of what runs: a change to it is drift too.
  fs.writeFileSync(path.join(dir, 'common.conf'), 'RETRIES=5\n');
  const libCheck = await cli(['ingest', dir, '--pack', pack, '--check']);
  t.is(libCheck.code, 1, 'a new non-script file is drift');
  t.regex(libCheck.stdout, /pack files differ from the catalog: added common\.conf/);
  t.is((await ingest([dir, '--pack', pack])).code, 0);
  t.is((await ingest([dir, '--pack', pack, '--check'])).code, 0);
  fs.writeFileSync(path.join(dir, 'common.conf'), 'RETRIES=7\n');
  const libChanged = await ingest([dir, '--pack', pack, '--check']);
  t.is(libChanged.code, 1);
  t.deepEqual(libChanged.report.fileChanges, { added: [], changed: ['common.conf'], removed: [] });
  t.is(libChanged.report.summary.changed, 0, 'no action changed, yet the pack did');
});

test('an ingested action runs on a regional worker from the stored pack, with argv from its metadata and hostile values literal', async (t) => {
  const dir = copyTree(path.join(PROJECT_ROOT, 'test', 'fixtures', 'packs', 'testkit', 'scripts'), 'runkit');
  // A sibling module the script imports: materialised with it on the worker.
  fs.mkdirSync(path.join(dir, 'lib'));
  fs.writeFileSync(path.join(dir, 'lib', '__init__.py'), '');
  fs.writeFileSync(path.join(dir, 'lib', 'shout.py'), 'def shout(s):\n    return s.upper()\n');
  fs.writeFileSync(
    path.join(dir, 'greet.py'),
    '#!/usr/bin/env python3\n"""Greet someone loudly."""\nimport argparse\nfrom lib.shout import shout\np = argparse.ArgumentParser()\np.add_argument("name")\nprint(shout("hello " + p.parse_args().name))\n',
  );
  const pack = uniqueName('runkit').replace(/-/g, '_');
  t.is((await ingest([dir, '--pack', pack, '--no-write'])).code, 0);
  fs.rmSync(dir, { recursive: true }); // no shared filesystem: the worker must get the files from the catalog
  const names = (await packActions(pack)).map((a) => a.name.slice(pack.length + 1));
  t.false(names.includes('shout'), 'a library module is not an action');
  t.true(names.includes('greet'));

  const hostile = '--x; rm -rf /';
  const r = await cli(['run', `${pack}.echo_args`, `message=${hostile}`, 'label=$(id)', 'tag=a,b', 'loud=true', '--region', 'eu-west']);
  t.is(r.code, 0, r.stderr);
  const argv = (JSON.parse(r.stdout.split('\n')[0]) as { argv: string[]; region: string }).argv;
  t.deepEqual(argv, ['--label=$(id)', '--tag=a', '--tag=b', '--loud', '--', hostile]);
  t.regex(r.stdout, /succeeded \(exit code 0\).*on eu-west@/);

  const { execution } = await runViaApi({ action: `${pack}.greet`, parameters: { name: 'ops' }, region: 'us-east' });
  t.is(execution.status, 'succeeded', execution.stderr);
  t.is(execution.stdout.trim(), 'HELLO OPS');
  const dry = await cli(['run', `${pack}.echo_args`, 'message=hi', 'token=s3cr3t', '--dry-run']);
  t.is(dry.code, 0);
  t.is(dry.stdout.trim(), "python3 echo_args.py --label=none '--token=********' hi");
  const help = await cli(['run', `${pack}.echo_args`, '-h']);
  t.is(help.code, 0);
  t.regex(help.stdout, /token \(secret\)\s+string/);
  t.regex(help.stdout, /source: echo_args\.py \(inferred\)/);
});

test('patterns a review found in real ops scripts: getopts -h with a value, helper functions, exclusive defaults, string defaults, nested sub-commands, odd names', async (t) => {
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'stackwire-ingest-')), 'patterns');
  fs.mkdirSync(dir);
  const write = (name: string, text: string) => fs.writeFileSync(path.join(dir, name), text);
  write(
    'hp.sh',
    '#!/usr/bin/env bash\n# Connect to a database host.\nwhile getopts "h:p:" opt; do\n  case "$opt" in\n    h) host="$OPTARG" ;;\n    p) port="$OPTARG" ;;\n    *) exit 2 ;;\n  esac\ndone\necho "$host:$port"\n',
  );
  write(
    'backup.sh',
    '#!/usr/bin/env bash\n# Back up one database.\nlog() { local msg="$1"; echo "[backup] $msg"; }\ndie() { echo "$1" >&2; exit 1; }\nDB=${1:?usage: backup.sh DB}\nlog "backing up $DB"\n',
  );
  write(
    'report.py',
    '#!/usr/bin/env python3\n"""Report."""\nimport argparse\np = argparse.ArgumentParser()\ng = p.add_mutually_exclusive_group()\ng.add_argument("--format", choices=["text", "csv"], default="text")\ng.add_argument("--json", action="store_true")\np.add_argument("--count", type=int, default="5")\nprint(p.parse_args())\n',
  );
  write(
    'dbtool.py',
    '#!/usr/bin/env python3\n"""Database tool."""\nimport argparse\np = argparse.ArgumentParser()\nsub = p.add_subparsers(dest="cmd", required=True)\ndb = sub.add_parser("db")\ndbsub = db.add_subparsers(dest="dbcmd", required=True)\nm = dbsub.add_parser("migrate")\nm.add_argument("--to", type=int)\nprint(p.parse_args())\n',
  );
  write('-x.sh', '#!/usr/bin/env bash\n# A script whose name starts with a dash.\necho "$1"\n');
  write('deep.py', `#!/usr/bin/env python3\nx = ${Array.from({ length: 20000 }, (_, i) => String(i)).join(' + ')}\n`);
  write(
    'cls.py',
    '#!/usr/bin/env python3\n# Class-based CLI.\nimport argparse\nclass Tool:\n    def __init__(self):\n        self.parser = argparse.ArgumentParser()\n        self._add_args()\n    def _add_args(self):\n        self.parser.add_argument("--host", required=True)\n    def run(self):\n        print(self.parser.parse_args())\nif __name__ == "__main__":\n    Tool().run()\n',
  );
  write(
    'rotate.sh',
    '#!/bin/bash\n# Rotate logs on a host.\n# Usage: rotate.sh [-n count] host [port] [user]\nCOUNT=5\nwhile getopts "n:" opt; do\n  case $opt in\n    n) COUNT=$OPTARG ;;\n    *) exit 2 ;;\n  esac\ndone\nshift $((OPTIND-1))\necho "$1" "$2" "$3"\n',
  );
  write(
    'opt.py',
    '#!/usr/bin/env python3\n# optparse tool\nfrom optparse import OptionParser\nparser = OptionParser(usage="%prog [options] host")\nparser.add_option("-p", "--port", type="int", default=22, help="port [default: %default]")\n(opts, args) = parser.parse_args()\nprint(args[0], opts.port)\n',
  );
  write(
    'sshw.py',
    '#!/usr/bin/env python3\n# ssh wrapper\nimport argparse\np = argparse.ArgumentParser()\np.add_argument("-o", dest="opts", help="extra options for ssh")\nprint(p.parse_args())\n',
  );
  write(
    'deployit.sh',
    '#!/usr/bin/env bash\n# Deploy things.\nENV=staging\nwhile [[ $# -gt 0 ]]; do\n  case "$1" in\n    -e|--env) ENV="$2"; shift 2 ;;\n    --env=*) ENV="${1#*=}"; shift ;;\n    -f|--force) FORCE=1; shift ;;\n    --tag) TAGS+=("$2"); shift 2 ;;\n    -h|--help) echo usage; exit 0 ;;\n    *) break ;;\n  esac\ndone\nSERVICE=$1\necho "$ENV $FORCE $SERVICE ${TAGS[*]}"\n',
  );
  write(
    'purge.py',
    '#!/usr/bin/env python3\n# Purge a CDN cache.\nimport argparse\np = argparse.ArgumentParser()\nwhat = p.add_mutually_exclusive_group(required=True)\nwhat.add_argument("--url")\nwhat.add_argument("--all", action="store_true")\nprint(p.parse_args())\n',
  );
  write(
    'clk.py',
    "#!/usr/bin/env python3\n# Click tool.\nimport click\n@click.command()\n@click.option('--password', prompt=True, hide_input=True)\n@click.option('--upper', 'transform', flag_value='upper')\n@click.option('--lower', 'transform', flag_value='lower', default=True)\ndef main(password, transform):\n    print(transform)\nif __name__ == '__main__':\n    main()\n",
  );
  write('ping.py', '#!/usr/bin/env python3\n# Ping (Python).\nprint("pong")\n');
  write('ping.sh', '#!/usr/bin/env bash\n# Ping (shell).\necho pong\n');
  const pack = uniqueName('patterns').replace(/-/g, '_');
  const core = await cli(['ingest', dir, '--pack', 'core']);
  t.is(core.code, 2, 'the built-in pack name is reserved');
  t.regex(core.stderr, /pack "core" holds the built-in actions/);
  const r = await ingest([dir, '--pack', pack, '--no-write']);
  t.is(r.code, 0, r.stderr);
  t.true(
    r.report.warnings.some((w) => w.file === 'deep.py' && /too deeply nested/.test(w.message)),
    'one pathological file is a warning, not a failed ingest',
  );
  const actions = new Map((await packActions(pack)).map((a) => [a.name.slice(pack.length + 1), a]));
  t.deepEqual(Object.keys(actions.get('hp')!.parameters.properties).sort(), ['host', 'port']);
  t.deepEqual(Object.keys(actions.get('cls')!.parameters.properties), ['args'], 'a parser the analysis cannot follow: free-form, not "no parameters"');
  t.true(r.report.warnings.some((w) => w.file === 'cls.py' && /1 add_argument call\(s\) on a parser this analysis cannot follow/.test(w.message)));
  t.true(actions.has('ping_py') && actions.has('ping_sh'), `two scripts that differ only by extension both ingest: ${[...actions.keys()].join(', ')}`);
  t.deepEqual(Object.keys(actions.get('backup')!.parameters.properties), ['db'], "a helper function's $1 is not the script's");
  t.is(actions.get('report')!.parameters.properties.count.default, 5, 'argparse runs a string default through type=int');
  const dry = async (action: string, ...pairs: string[]) => {
    const d = await cli(['run', `${pack}.${action}`, ...pairs, '--dry-run']);
    t.is(d.code, 0, d.stderr);
    return d.stdout.trim();
  };
  t.is(await dry('hp', 'host=db1', 'port=5432'), 'bash hp.sh -h db1 -p 5432');
  t.is(await dry('report', 'json=true'), 'python3 report.py --json --count=5', 'the default of the other exclusive option is left to the script');
  t.is(await dry('dbtool.db_migrate', 'to=3'), 'python3 dbtool.py db migrate --to=3', 'one argv word per sub-command level');
  t.is(await dry('rotate', 'host=h', 'user=u'), "bash rotate.sh -n 5 h '' u", 'a missing middle positional is passed empty, so $3 stays $3');
  t.is(await dry('opt', 'port=1', 'args=host1'), 'python3 opt.py --port=1 host1', "optparse's leftover args can be given");
  t.is(actions.get('opt')!.parameters.properties.port.description, 'port [default: 22]');
  t.is(
    await dry('sshw', 'opts=-oStrictHostKeyChecking=no'),
    'python3 sshw.py -o-oStrictHostKeyChecking=no',
    'a short option whose value starts with "-" is joined to it',
  );
  t.deepEqual(Object.keys(actions.get('deployit')!.parameters.properties).sort(), ['env', 'force', 'service', 'tags'], '--env=* is another spelling of --env');
  t.is(
    await dry('deployit', 'env=prod', 'tags=a,b', 'force=true', 'service=web'),
    'bash deployit.sh --env prod --force --tag a --tag b web',
    'a case item that takes $2 is a value option; TAGS+=("$2") repeats',
  );
  const clk = actions.get('clk')!.parameters;
  t.deepEqual(clk.required, ['password'], 'click prompt=True: no terminal to ask on, so the value is required');
  t.true(clk.properties.password.secret, 'hide_input=True is a secret');
  t.is(
    await dry('clk', 'password=pw', 'transform=true'),
    "python3 clk.py '--password=********' --upper",
    'flag_value options are flags, and the script keeps its own default',
  );
  const neither = await cli(['run', `${pack}.purge`, '--dry-run']);
  t.is(neither.code, 2, 'a required mutually exclusive group is checked before anything runs');
  t.regex(neither.stderr, /url, all: one of them is required/);
  t.is(await dry('purge', 'all=true'), 'python3 purge.py --all');
  t.is(await dry('x', 'arg1=hi'), 'bash ./-x.sh hi', 'a script name that starts with a dash is not read as an interpreter option');
});

test('analyser patterns: getopt branches (one parameter per branch, typed, defaulted; help and version left out), helpers forwarding *args/**kwargs, dest-only positionals, computed defaults and choices, a shell file that partly does not parse; the report counts what to review', async (t) => {
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'stackwire-ingest-')), 'analyser');
  fs.mkdirSync(dir);
  for (const f of ['rotate_host_keys.py', 'replica_failover.py', 'warm_cache.py'])
    fs.copyFileSync(path.join(PROJECT_ROOT, 'test', 'fixtures', 'corpus-python', f), path.join(dir, f));
  fs.copyFileSync(path.join(PROJECT_ROOT, 'test', 'fixtures', 'corpus-shell', 'upgrade_agent.sh'), path.join(dir, 'upgrade_agent.sh'));
  const pack = uniqueName('analyser').replace(/-/g, '_');
  const { code, report } = await ingest([dir, '--pack', pack]);
  t.is(code, 0);
  const byName = new Map((await packActions(pack)).map((a) => [a.name.slice(pack.length + 1), a]));
  const props = (name: string) => byName.get(name)?.parameters.properties ?? {};

  // getopt: -p/--port with `port = int(a)` after `port = 22` is one integer parameter, default 22.
  const keys = props('rotate_host_keys');
  t.deepEqual(Object.keys(keys).sort(), ['args', 'dry_run', 'host', 'port', 'tag', 'user', 'wait', 'x'], 'no help, version or short duplicates');
  t.like(keys.host, { flag: '--host=', type: 'string', default: 'localhost' });
  t.like(keys.port, { flag: '--port=', type: 'integer', default: 22 });
  t.like(keys.wait, { flag: '--wait=', type: 'number', default: 2.5 });
  t.like(keys.tag, { type: 'array', items: { type: 'string' } });
  t.like(keys.dry_run, { flag: '--dry-run', type: 'boolean', default: false });
  t.is(keys.user.default, undefined, 'a default computed at run time is left to the script');
  t.is(keys.x.type, 'string');
  // A helper that forwards *args/**kwargs to add_option / add_argument.
  const failover = props('replica_failover');
  t.like(failover.host, { flag: '--host=', type: 'string', default: 'db-primary', description: 'current primary' });
  t.like(failover.port, { type: 'integer', default: 5432 });
  t.like(failover.zone, { flag: '--dns-zone=', type: 'string' });
  t.like(failover.dry_run, { flag: '--dry-run', type: 'boolean', default: false });
  t.like(failover.wait, { type: 'number', default: 30 });
  const warm = props('warm_cache');
  t.like(warm.site, { flag: '--site=', type: 'string' });
  t.true(byName.get('warm_cache')!.parameters.required.includes('site'));
  t.like(warm.concurrency, { type: 'integer', default: 8 });
  t.is(warm.region.enum, undefined, 'choices computed at run time are not guessed');
  t.is(warm.timeout.default, undefined);
  t.like(warm.urls_file, { type: 'string', position: 0 });
  t.false(byName.get('warm_cache')!.parameters.required.includes('urls_file'), 'nargs="?": optional');
  // The shell file's `[ "$a" \\< "$b" ]` does not parse; its getopts loop does.
  const agent = props('upgrade_agent');
  t.deepEqual(Object.keys(agent).sort(), ['dry_run', 'repo', 'timeout', 'version']);
  t.like(agent.version, { flag: '-v', type: 'string', default: 'latest' });
  t.like(agent.timeout, { flag: '-t', type: 'integer', default: 60 });
  t.truthy(report.warnings.find((w) => w.file === 'upgrade_agent.sh' && w.line === 30 && /does not parse as shell/.test(w.message)));

  // What needs a person's look is counted, and each has a warning saying why.
  const why = [
    ['rotate_host_keys.py', /default of --user is computed when the script runs/],
    ['rotate_host_keys.py', /getopt option -x is handled nowhere/],
    ['warm_cache.py', /choices of --region are computed when the script runs/],
    ['warm_cache.py', /default of --timeout is computed when the script runs/],
  ] as const;
  for (const [file, re] of why)
    t.truthy(
      report.warnings.find((w) => w.file === file && re.test(w.message)),
      `${file}: ${String(re)}`,
    );
  const all = [...byName.values()].reduce((n, a) => n + Object.keys(a.parameters.properties).length, 0);
  t.like(report.summary, { parameters: all, toReview: 4, freeForm: 0 });
  const human = await cli(['ingest', dir, '--pack', pack]);
  t.is(human.code, 0, human.stderr);
  t.regex(human.stdout, new RegExp(`parameters: ${all} inferred from scripts, 4 to review \\(their warnings say why\\)`));
});

test('an override file corrects inferred metadata field by field', async (t) => {
  const dir = copyTree(path.join(PROJECT_ROOT, 'test', 'fixtures', 'packs', 'testkit', 'scripts'), 'overkit');
  fs.writeFileSync(
    path.join(dir, 'echo_args.py.stackwire.yaml'),
    'description: Echo, corrected by hand.\ntimeout: 42\nparameters:\n  label:\n    enum: [blue, green]\n  token: null\n  loud:\n    description: shout\n',
  );
  const pack = uniqueName('overkit').replace(/-/g, '_');
  t.is((await ingest([dir, '--pack', pack, '--no-write'])).code, 0);
  const a = (await http<Action>('GET', `/api/v1/actions/${pack}.echo_args`)).body;
  t.is(a.description, 'Echo, corrected by hand.');
  t.is(a.timeoutSeconds, 42);
  t.is(a.origin, 'override');
  t.deepEqual(a.parameters.properties.label?.enum, ['blue', 'green']);
  t.is(a.parameters.properties.label?.default, 'none', 'fields not overridden stay inferred');
  t.false('token' in a.parameters.properties);
  t.is(a.parameters.properties.loud?.description, 'shout');
  const bad = await cli(['run', `${pack}.echo_args`, 'message=m', 'label=red']);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /label: must be one of "blue", "green"/);

  // Sub-command actions take the script-wide fields and their own subcommands.<name> section.
  fs.writeFileSync(
    path.join(dir, 'flags.py'),
    '#!/usr/bin/env python3\n# Feature flags.\nimport argparse\np = argparse.ArgumentParser()\nsub = p.add_subparsers(dest="cmd", required=True)\ns = sub.add_parser("set")\ns.add_argument("flag")\ng = sub.add_parser("get")\ng.add_argument("flag")\nprint(p.parse_args())\n',
  );
  fs.writeFileSync(path.join(dir, 'flags.py.stackwire.yaml'), 'timeout: 77\nsubcommands:\n  set:\n    description: Set a flag.\n');
  t.is((await ingest([dir, '--pack', pack, '--no-write'])).code, 0);
  const set = (await http<Action>('GET', `/api/v1/actions/${pack}.flags.set`)).body;
  const get = (await http<Action>('GET', `/api/v1/actions/${pack}.flags.get`)).body;
  t.is(set.description, 'Set a flag.');
  t.is(set.timeoutSeconds, 77);
  t.is(get.timeoutSeconds, 77);
  // Mistakes in an override stop the ingest with the file and the field, and change nothing.
  for (const [text, want] of [
    [
      'parameters:\n  regoin: {default: x}\n',
      /flags\.py\.stackwire\.yaml: parameters\.regoin: no such parameter was inferred \(known: flag\); to add it, give its type/,
    ],
    ['timeuot: 5\n', /flags\.py\.stackwire\.yaml: unknown field "timeuot"/],
    ['runner: perl\n', /flags\.py\.stackwire\.yaml: runner: "perl" is not one of python, shell, node, exec/],
    ['subcommands:\n  delete: {timeout: 5}\n', /flags\.py\.stackwire\.yaml: subcommands\.delete: the script has no such sub-command \(it has: get, set\)/],
  ] as const) {
    fs.writeFileSync(path.join(dir, 'flags.py.stackwire.yaml'), text);
    const r = await cli(['ingest', dir, '--pack', pack, '--no-write']);
    t.is(r.code, 1, text);
    t.regex(r.stderr, want);
  }
  t.is((await http<Action>('GET', `/api/v1/actions/${pack}.flags.get`)).body.timeoutSeconds, 77, 'nothing was changed');
});

test('a git repository ingests at a ref, honouring .gitignore; core.ingest does the same as a built-in action', async (t) => {
  const repo = copyTree(path.join(PROJECT_ROOT, 'test', 'fixtures', 'corpus-shell'), 'repo');
  fs.writeFileSync(path.join(repo, '.gitignore'), 'scratch/\n');
  fs.mkdirSync(path.join(repo, 'scratch'));
  fs.writeFileSync(path.join(repo, 'scratch', 'local_hack.sh'), '#!/bin/bash\necho hack\n');
  const git = (...args: string[]) => spawnSync('git', ['-c', 'user.email=ci@example.com', '-c', 'user.name=ci', ...args], { cwd: repo, encoding: 'utf8' });
  t.is(git('init', '-q', '-b', 'main').status, 0);
  t.is(git('add', '-A').status, 0);
  t.is(git('commit', '-qm', 'scripts').status, 0);
  t.is(git('tag', 'v1').status, 0);
  const pack = uniqueName('gitpack').replace(/-/g, '_');
  const { code, report } = await ingest([`file://${repo}#v1`, '--pack', pack]);
  t.is(code, 0, JSON.stringify(report));
  t.is(report.source.kind, 'git');
  t.is(report.source.ref, 'v1');
  t.regex(String(report.source.commit), /^[0-9a-f]{40}$/);
  const names = (await packActions(pack)).map((a) => a.name);
  t.true(names.includes(`${pack}.service_ctl`));
  t.false(
    names.some((n) => n.includes('local_hack')),
    '.gitignore is honoured',
  );

  const viaBuiltin = uniqueName('builtin').replace(/-/g, '_');
  const { execution } = await runViaApi({ action: 'core.ingest', parameters: { source: `file://${repo}`, ref: 'main', pack: viaBuiltin } });
  t.is(execution.status, 'succeeded', execution.stderr);
  t.is((JSON.parse(execution.stdout) as Report).summary.added, names.length);
  t.is((await packActions(viaBuiltin)).length, names.length);
  const { execution: check } = await runViaApi({ action: 'core.ingest', parameters: { source: `file://${repo}`, pack: viaBuiltin, mode: 'check' } });
  t.is(check.status, 'succeeded', 'no drift, so the check passes');
});

test('a StackStorm pack imports from its action metadata; unsupported runners are listed with a reason', async (t) => {
  const dir = copyTree(path.join(PROJECT_ROOT, 'test', 'fixtures', 'st2pack'), 'st2');
  const { code, report } = await ingest([dir, '--no-write']);
  t.is(code, 0);
  t.is(report.pack, 'legacy_ops', 'the pack name comes from pack.yaml');
  t.deepEqual(
    report.actions.map((a) => [a.name, a.framework]),
    [
      ['legacy_ops.get_disk_stats', 'stackstorm:python-script'],
      ['legacy_ops.restart_app', 'stackstorm:local-shell-script'],
      ['legacy_ops.sensor_disk_watch', 'stackstorm:sensor'],
    ],
  );
  // A sensor's Python file (it has a __main__ block) is no action of its own: the sensor's metadata makes it
  // the action that runs it as a script sensor. Rules are listed with how to convert them, never silent.
  t.deepEqual(report.unsupported.map((u) => u.file).sort(), ['actions/deploy_flow.yaml', 'actions/notify_chat.yaml', 'rules/disk_full_cleanup.yaml']);
  const reason = (file: string) => report.unsupported.find((u) => u.file === file)?.reason ?? '';
  t.regex(reason('actions/notify_chat.yaml'), /runner_type http-request is not supported/);
  t.regex(reason('actions/deploy_flow.yaml'), /entry_point workflows\/deploy_flow\.yaml was not found/);
  t.regex(reason('rules/disk_full_cleanup.yaml'), /ingest does not apply rules .*stackwire rule import/);
  t.true(report.warnings.some((w) => w.file === 'sensors/disk_watch.yaml' && /imported as the action legacy_ops\.sensor_disk_watch/.test(w.message)));
  const restart = (await http<Action>('GET', '/api/v1/actions/legacy_ops.restart_app')).body;
  t.is(restart.timeoutSeconds, 120, 'the timeout parameter becomes the action timeout');
  t.false('sudo' in restart.parameters.properties, 'immutable runner parameters are not exposed');
  // StackStorm's argv: named --name=value first (true → bare flag), then every position, a missing one as "".
  const sh = await runViaApi({ action: 'legacy_ops.restart_app', parameters: { app: 'billing', wait: 5, hosts: ['web1', 'web2'] } });
  t.is(sh.execution.status, 'succeeded');
  t.is(sh.execution.stdout.trim(), 'restarting with args: [--graceful][--wait=5][billing][][web1,web2]');
  const off = await runViaApi({ action: 'legacy_ops.restart_app', parameters: { app: 'billing', graceful: false, environment: 'prod' } });
  t.is(
    off.execution.stdout.trim(),
    'restarting with args: [--wait=10][billing][prod][]',
    'false is left out, and every declared position is passed, as StackStorm does',
  );
  const py = await runViaApi({ action: 'legacy_ops.get_disk_stats', parameters: { path: '/', human: true } });
  t.is(py.execution.status, 'succeeded', py.execution.stderr);
  // An immutable parameter is passed with its value; an optional one without a default is passed as None.
  t.like(JSON.parse(py.execution.stdout) as object, { path: '/', human: true, unit: 'GiB', label: null });
  const stats = (await http<Action>('GET', '/api/v1/actions/legacy_ops.get_disk_stats')).body;
  t.like(stats.parameters.properties.unit, { default: 'GiB', enum: ['GiB'] });
  const changed = await http<{ error: { code: string; message: string } }>('POST', '/api/v1/executions', {
    action: 'legacy_ops.get_disk_stats',
    parameters: { path: '/', unit: 'MiB' },
  });
  t.is(changed.status, 400, 'an immutable value cannot be changed');
  t.regex(changed.body.error.message, /unit/);
  const failing = await runViaApi({ action: 'legacy_ops.get_disk_stats', parameters: { path: '/no/such/dir' } });
  t.is(failing.execution.status, 'failed');
  t.regex(failing.execution.stderr, /FileNotFoundError/);
});

test('ingest input errors are clear and change nothing', async (t) => {
  const noBody = await http<{ error: { code: string } }>('POST', '/api/v1/blobs/missing');
  t.is(noBody.status, 400);
  t.is(noBody.body.error.code, 'invalid_request');
  const missing = await cli(['ingest', '/no/such/folder']);
  t.is(missing.code, 2);
  t.regex(missing.stderr, /\/no\/such\/folder is not a folder/);
  const withToken = await cli(['ingest', 'https://deploy:ghp_s3cr3t@git.example.com/ops/scripts.git', '--pack', 'tokenized']);
  t.not(withToken.code, 0);
  t.regex(withToken.stderr, /holds a password or token .* credential helper, a deploy key/);
  t.is((await packActions('tokenized')).length, 0);
  const badPack = await cli(['ingest', path.join(PROJECT_ROOT, 'test', 'fixtures', 'corpus-shell'), '--pack', 'Bad Name']);
  t.is(badPack.code, 2);
  t.regex(badPack.stderr, /pack name "Bad Name" is not valid/);
  const dir = copyTree(path.join(PROJECT_ROOT, 'test', 'fixtures', 'packs', 'testkit', 'scripts'), 'badover');
  fs.writeFileSync(path.join(dir, 'echo_args.py.stackwire.yaml'), 'parameters:\n  label: {type: [oops\n');
  const pack = uniqueName('badover').replace(/-/g, '_');
  const r = await cli(['ingest', dir, '--pack', pack]);
  t.is(r.code, 1);
  t.regex(r.stderr, /nothing was changed: echo_args\.py\.stackwire\.yaml:\d+:\d+: /);
  t.is((await packActions(pack)).length, 0);
});
