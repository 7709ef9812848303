/**
 * From a pack's files to actions: recognise scripts (Python, shell, Node — by extension or shebang),
 * infer their parameters statically (never by running them), apply `<script>.stackwire.yaml`
 * overrides field by field, import StackStorm action metadata, and render each action as
 * reviewable YAML.
 * Long file: one pass over a pack (recognise → infer → override → StackStorm import → YAML) whose
 * steps share the per-pack state; the language analysers themselves live in shell.ts and python/.
 */
import crypto from 'node:crypto';
import path from 'node:path';
import YAML from 'yaml';
import { compileCheck } from '../common/parameters.js';
import type { ActionSpec, IngestWarning, ParameterSchema, Runner } from '../common/types.js';
import type { PackFile } from '../db/packs.js';
import { PROJECT_ROOT } from '../lib/config.js';
import { breather } from '../lib/breather.js';
import { startProcess } from '../lib/spawn.js';
import { SECRET_NAME, convert, freeFormParameters, type InferredParameter, type Introspection } from './introspection.js';
import { analyzeShell } from './shell.js';
import { importStackStorm } from './stackstorm.js';

export const INTROSPECT_PY = path.join(PROJECT_ROOT, 'ingest', 'python', 'introspect.py');
export const OVERRIDE_SUFFIX = '.stackwire.yaml';
const DEFAULT_TIMEOUT = 600;

import type { IngestedAction, Unsupported } from './types.js';

export type { IngestedAction, Unsupported } from './types.js';

export interface AnalysisResult {
  pack: string;
  actions: IngestedAction[];
  warnings: IngestWarning[];
  unsupported: Unsupported[];
  /** Files the analysis adds to the pack version: StackStorm workflows converted to pipelines. */
  generated: PackFile[];
  /** Files that are not scripts (data, libraries, docs) — kept in the pack, not actions. */
  otherFiles: number;
  /** How sure the analysis is of what it inferred from scripts (StackStorm metadata declares its own). */
  parameters: ParameterConfidence;
}

export interface ParameterConfidence {
  /** Parameters inferred from analysed scripts. */
  inferred: number;
  /** Of those, the ones a person should look at, and why (each is also a warning). */
  review: { action: string; parameter: string; why: string }[];
  /** Actions that take free-form arguments: nothing could be inferred. */
  freeForm: string[];
}

type Language = 'python' | 'shell' | 'node';

function languageOf(f: PackFile): Language | undefined {
  const ext = path.extname(f.path).toLowerCase();
  if (ext === '.py') return 'python';
  if (ext === '.sh' || ext === '.bash') return 'shell';
  if (ext === '.js' || ext === '.mjs' || ext === '.cjs') return 'node';
  if (ext !== '') return undefined;
  const first = f.content.subarray(0, 200).toString('utf8').split('\n')[0] ?? '';
  if (!first.startsWith('#!')) return undefined;
  if (/python/.test(first)) return 'python';
  if (/\b(ba|da|k|z)?sh\b/.test(first)) return 'shell';
  if (/\bnode\b/.test(first)) return 'node';
  return undefined;
}

const RUNNER: Record<Language, Runner> = { python: 'python', shell: 'shell', node: 'node' };

/** Peak memory of the Python analyser (KiB), reported when `report` is set (benchmarks). */
export const analyserStats = { report: false, pythonMaxRssKb: 0 };

/** PATH for python3 when the caller gives no environment. */
const DEFAULT_ENV = { PATH: '/usr/local/bin:/usr/bin:/bin' };

/** Runs the Python analyser over many files in one process (python3, the file names NUL-separated on stdin, no shell). */
export async function introspectPython(
  root: string,
  relPaths: string[],
  onProgress?: (done: number) => void,
  env: Record<string, string> = DEFAULT_ENV,
): Promise<Introspection[]> {
  if (relPaths.length === 0) return [];
  const out: Introspection[] = [];
  let buf = '';
  let parseError: Error | undefined;
  // On stdin, not argv: a tree of ~25,000 files would exceed the kernel's argument limit (E2BIG).
  const r = await startProcess({
    argv: ['python3', INTROSPECT_PY, '--files-from', '-'],
    cwd: root,
    env: { ...env, ...(analyserStats.report ? { STACKWIRE_INTROSPECT_STATS: '1' } : {}) },
    stdin: relPaths.join('\0'),
    // Bulk analysis (seconds to minutes for a large tree) must not starve the worker's heartbeats: a
    // loaded CI run stalled a worker for 11 s during the 20,000-script ingest, and a run it held was lost.
    nice: 10,
    onStdout: (b) => {
      buf += b.toString('utf8');
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          if (line.trim()) out.push(JSON.parse(line) as Introspection);
        } catch (err) {
          parseError ??= err as Error;
        }
        onProgress?.(out.length);
      }
    },
  }).done;
  if (r.spawnError) throw new Error(`cannot run python3 for the Python analyser: ${r.spawnError.message}. Install Python 3.`);
  const err = r.stderr;
  const stats = /\{"maxrss_kb": (\d+)\}/.exec(err);
  if (stats) analyserStats.pythonMaxRssKb = Math.max(analyserStats.pythonMaxRssKb, Number(stats[1]));
  if (r.code !== 0 || parseError || out.length !== relPaths.length)
    throw new Error(`the Python analyser failed (exit ${r.code}): ${parseError ? `${parseError.message} ` : ''}${err.slice(-2000)}`);
  return out;
}

function nodeIntrospection(f: PackFile): Introspection {
  const lines = f.content.toString('utf8').split('\n');
  const desc: string[] = [];
  for (const raw of lines) {
    const l = raw.trim();
    if (l.startsWith('#!')) continue;
    if (l.startsWith('//')) desc.push(l.replace(/^\/\/\s?/, ''));
    else if (l.startsWith('/*') || l.startsWith('*')) desc.push(l.replace(/^\/?\*+\/?\s?/, '').replace(/\*\/$/, ''));
    else if (l === '' && desc.length === 0) continue;
    else break;
  }
  const para: string[] = [];
  for (const d of desc) {
    if (!d.trim() && para.length) break;
    if (d.trim()) para.push(d.trim());
  }
  return {
    file: f.path,
    description: para.join(' '),
    framework: 'none',
    parameters: [],
    subcommands: [],
    warnings: [{ line: null, message: 'parameters of Node scripts are not inferred yet; it takes free-form arguments (add an override to declare them)' }],
    is_script: true,
  };
}

/** Action names: the script's file name; where two scripts share it, their path. */
function actionNames(paths: string[]): Map<string, string> {
  const stem = (p: string) => path.basename(p).replace(/\.[^.]+$/, '');
  const clean = (s: string) =>
    s
      .toLowerCase()
      .replace(/[^a-z0-9_-]+/g, '_')
      .replace(/^[^a-z]+/, '');
  const counts = new Map<string, number>();
  for (const p of paths) counts.set(clean(stem(p)), (counts.get(clean(stem(p))) ?? 0) + 1);
  const first = new Map(
    paths.map((p) => [p, (counts.get(clean(stem(p)))! > 1 ? clean(p.replace(/\.[^./]+$/, '').replace(/\//g, '_')) : clean(stem(p))) || 'script']),
  );
  // hp.py and hp.sh side by side: their paths without extension still collide, so the extension joins the name.
  const taken = new Map<string, number>();
  for (const n of first.values()) taken.set(n, (taken.get(n) ?? 0) + 1);
  return new Map([...first].map(([p, n]) => [p, taken.get(n)! > 1 ? clean(p.replace(/[/.]/g, '_')) || n : n]));
}

interface MetaParam extends ParameterSchema {
  required?: boolean;
}

interface OverrideDoc {
  name?: string;
  description?: string;
  timeout?: number;
  max_attempts?: number;
  idempotent?: boolean;
  region?: string;
  runner?: Runner;
  parameters?: Record<string, MetaParam | null>;
  skip?: boolean;
  /** Per sub-command action of the script (argparse sub-parsers, click groups): the same fields. */
  subcommands?: Record<string, Omit<OverrideDoc, 'subcommands' | 'skip'>>;
}

const OVERRIDE_KEYS = ['name', 'description', 'timeout', 'max_attempts', 'idempotent', 'region', 'runner', 'parameters', 'skip', 'subcommands'];
const RUNNERS: Runner[] = ['python', 'shell', 'node', 'exec'];

/** Field-by-field: a field given in the override wins; `parameters.<p>: null` removes a parameter. */
function applyOverride(a: IngestedAction, o: OverrideDoc, file: string): IngestedAction {
  const out: IngestedAction = { ...a, parameters: structuredClone(a.parameters), origin: 'override' };
  for (const k of Object.keys(o))
    if (!OVERRIDE_KEYS.includes(k)) throw new Error(`${file}: unknown field "${k}"; an override may set ${OVERRIDE_KEYS.join(', ')}`);
  if (o.runner !== undefined && !RUNNERS.includes(o.runner))
    throw new Error(`${file}: runner: ${JSON.stringify(o.runner)} is not one of ${RUNNERS.join(', ')}`);
  if (o.parameters !== undefined && (typeof o.parameters !== 'object' || o.parameters === null || Array.isArray(o.parameters)))
    throw new Error(`${file}: parameters: must be a mapping of parameter name to its fields (or null to remove it)`);
  if (o.name !== undefined && (typeof o.name !== 'string' || !/^[a-z][a-z0-9_-]{0,62}(\.[a-z0-9_-]{1,62})?$/.test(o.name)))
    throw new Error(`${file}: name: ${JSON.stringify(o.name)} must be lower-case letters, digits, _ or - (the pack name is added in front)`);
  if (o.timeout !== undefined && !(Number.isInteger(o.timeout) && o.timeout >= 1))
    throw new Error(`${file}: timeout: must be a whole number of seconds, at least 1`);
  if (o.max_attempts !== undefined && !(Number.isInteger(o.max_attempts) && o.max_attempts >= 1))
    throw new Error(`${file}: max_attempts: must be a whole number, at least 1`);
  if (o.idempotent !== undefined && typeof o.idempotent !== 'boolean') throw new Error(`${file}: idempotent: must be true or false`);
  if (o.idempotent !== undefined) out.idempotent = o.idempotent;
  if (o.name !== undefined) out.name = `${a.pack}.${o.name}`;
  if (o.description !== undefined) out.description = o.description;
  if (o.timeout !== undefined) out.timeoutSeconds = o.timeout;
  if (o.max_attempts !== undefined) out.maxAttempts = o.max_attempts;
  if (o.region !== undefined) out.region = o.region;
  if (o.runner !== undefined) out.runner = o.runner;
  for (const [name, patch] of Object.entries(o.parameters ?? {})) {
    if (patch === null) {
      delete out.parameters.properties[name];
      out.parameters.required = out.parameters.required.filter((r) => r !== name);
      continue;
    }
    if (typeof patch !== 'object' || Array.isArray(patch))
      throw new Error(`${file}: parameters.${name}: must be a mapping of fields (type, default, flag, position …) or null`);
    const { required, ...fields } = patch;
    const added = !out.parameters.properties[name];
    // A new parameter must say what it is: that also catches a misspelt name (regoin: …) instead of adding it.
    if (added && fields.type === undefined) {
      const known = Object.keys(out.parameters.properties);
      throw new Error(
        `${file}: parameters.${name}: no such parameter was inferred (${known.length ? `known: ${known.join(', ')}` : 'none were'}); to add it, give its type`,
      );
    }
    out.parameters.properties[name] = { ...(out.parameters.properties[name] ?? {}), ...fields };
    if (added && fields.secret === undefined && SECRET_NAME.test(name)) out.parameters.properties[name].secret = true;
    if (required === true && !out.parameters.required.includes(name)) out.parameters.required.push(name);
    if (required === false) out.parameters.required = out.parameters.required.filter((r) => r !== name);
  }
  try {
    compileCheck(out.parameters);
  } catch (err) {
    throw new Error(`${file}: parameters: not a valid schema after the override: ${(err as Error).message}`);
  }
  return out;
}

function hash(...parts: (Buffer | string)[]): string {
  const h = crypto.createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
}

export async function analyzePack(
  root: string,
  pack: string,
  files: PackFile[],
  onProgress?: (phase: string, done: number, total: number) => void,
  env?: Record<string, string>,
): Promise<AnalysisResult> {
  const st2 = importStackStorm(pack, files);
  const warnings: IngestWarning[] = [...st2.warnings];
  const byPath = new Map(files.map((f) => [f.path, f]));
  const scripts = files
    .filter((f) => !st2.covered.has(f.path) && !f.path.endsWith(OVERRIDE_SUFFIX))
    .map((f) => ({ f, lang: languageOf(f) }))
    .filter((x): x is { f: PackFile; lang: Language } => x.lang !== undefined);
  const total = scripts.length;
  const intros = new Map<string, Introspection>();
  const py = scripts.filter((s) => s.lang === 'python').map((s) => s.f.path);
  for (const i of await introspectPython(root, py, (d) => onProgress?.('analysing', d, total), env)) intros.set(i.file, i);
  let done = py.length;
  const breathe = breather();
  for (const s of scripts.filter((x) => x.lang !== 'python')) {
    await breathe();
    intros.set(s.f.path, s.lang === 'shell' ? await analyzeShell(s.f.path, s.f.content.toString('utf8')) : nodeIntrospection(s.f));
    onProgress?.('analysing', ++done, total);
  }
  const real = scripts.filter((s) => intros.get(s.f.path)?.is_script !== false);
  const names = actionNames(real.map((s) => s.f.path));
  const actions: IngestedAction[] = [...st2.actions];
  const confidence: ParameterConfidence = { inferred: 0, review: [], freeForm: [] };
  for (const { f, lang } of real) {
    await breathe();
    const intro = intros.get(f.path)!;
    const { variants, warnings: w } = convert(intro);
    const understood = intro.framework !== 'none' && intro.framework !== 'unknown' && intro.framework !== 'sys.argv';
    const hasErrors = intro.warnings.some((x) => /syntax error/i.test(x.message));
    const overridePath = `${f.path}${OVERRIDE_SUFFIX}`;
    const overrideFile = byPath.get(overridePath);
    let override: OverrideDoc | undefined;
    if (overrideFile) {
      const doc = YAML.parseDocument(overrideFile.content.toString('utf8'));
      if (doc.errors.length) {
        const e = doc.errors[0];
        throw new Error(`${overridePath}:${e.linePos?.[0]?.line ?? '?'}:${e.linePos?.[0]?.col ?? '?'}: ${e.message}`);
      }
      override = (doc.toJS() ?? {}) as OverrideDoc;
    }
    if (override?.skip) continue;
    const inferred = variants.length > 0 && (understood || intro.parameters.length > 0) && !hasErrors;
    const useVariants = inferred ? variants : [{ description: intro.description, parameters: freeFormParameters(), argvPrefix: [] as string[] }];
    if (!understood && intro.framework !== 'none')
      w.push({ file: f.path, line: null, message: `parameters could not be inferred (${intro.framework}); the action takes free-form arguments` });
    if (intro.framework === 'none' && !hasErrors && intro.parameters.length === 0) {
      // A script with no parameters at all: nothing to pass.
      useVariants.splice(0, useVariants.length, {
        description: intro.description,
        parameters: { type: 'object', properties: {}, required: [], additionalProperties: false },
        argvPrefix: [],
      });
    }
    warnings.push(...w);
    for (const k of Object.keys(override?.subcommands ?? {})) {
      if (!useVariants.some((v) => v.subcommand === k))
        throw new Error(
          `${overridePath}: subcommands.${k}: the script has no such sub-command (it has: ${
            useVariants
              .map((v) => v.subcommand)
              .filter(Boolean)
              .sort()
              .join(', ') || 'none'
          })`,
        );
    }
    for (const v of useVariants) {
      const actionName = `${pack}.${names.get(f.path)!}${v.subcommand ? `.${v.subcommand.toLowerCase().replace(/[^a-z0-9_-]+/g, '_')}` : ''}`;
      if (!inferred) {
        if (Object.keys(v.parameters.properties).length > 0) confidence.freeForm.push(actionName);
      } else {
        confidence.inferred += Object.keys(v.parameters.properties).length;
        // An override file is a person's look already; a sub-command's action has its own and the global ones.
        const mine = (p: InferredParameter) => p.subcommand === null || p.subcommand === undefined || p.subcommand === v.subcommand;
        for (const p of overrideFile ? [] : intro.parameters)
          if (p.review && mine(p)) confidence.review.push({ action: actionName, parameter: p.flags.join('/') || p.name, why: p.review });
      }
      const base: IngestedAction = {
        name: actionName,
        pack,
        description: v.description,
        runner: RUNNER[lang],
        entryPoint: f.path,
        parameters: v.parameters,
        timeoutSeconds: DEFAULT_TIMEOUT,
        maxAttempts: 1,
        contentHash: hash(f.content, overrideFile?.content ?? ''),
        sourcePath: f.path,
        ...(v.argvPrefix.length ? { argvPrefix: v.argvPrefix } : {}),
        origin: 'inferred',
        warnings: w,
        framework: intro.framework,
      };
      let action = base;
      if (override && !v.subcommand) action = applyOverride(base, override, overridePath);
      else if (override && v.subcommand) {
        // The script-wide fields apply to each sub-command action; subcommands.<name> adds its own.
        const { name: _n, description: _d, parameters, subcommands, skip: _s, ...shared } = override;
        const own = subcommands?.[v.subcommand] ?? {};
        // A parameter of another sub-command is not this one's business; one that none has is checked (a typo, or a new one with its type).
        const anyHas = (k: string) => useVariants.some((x) => k in x.parameters.properties);
        const sharedParams = Object.fromEntries(Object.entries(parameters ?? {}).filter(([k]) => k in base.parameters.properties || !anyHas(k)));
        action = applyOverride(base, { ...shared, ...own, parameters: { ...sharedParams, ...(own.parameters ?? {}) } }, overridePath);
      }
      actions.push(action);
    }
  }
  const seen = new Map<string, string>();
  for (const a of actions) {
    const other = seen.get(a.name);
    if (other)
      throw new Error(
        `two actions would be named ${a.name} (${other} and ${a.sourcePath}); rename one with an override (${a.sourcePath}${OVERRIDE_SUFFIX}: name: …)`,
      );
    seen.set(a.name, a.sourcePath ?? '');
  }
  actions.sort((a, b) => (a.name < b.name ? -1 : 1));
  return {
    pack,
    actions,
    warnings: [...warnings],
    unsupported: st2.unsupported,
    generated: st2.generated,
    otherFiles: files.length - real.length - st2.covered.size,
    parameters: confidence,
  };
}

/** The reviewable YAML of an action: the same shape an override file (and hand-written metadata) uses. */
export function actionYaml(a: IngestedAction | ActionSpec): string {
  const parameters: Record<string, MetaParam> = {};
  for (const [name, s] of Object.entries(a.parameters.properties)) {
    parameters[name] = { ...(a.parameters.required.includes(name) ? { required: true } : {}), ...s };
  }
  const doc = {
    name: a.name.slice(a.pack.length + 1),
    description: a.description,
    runner: a.runner,
    entry_point: a.entryPoint,
    timeout: a.timeoutSeconds,
    ...(a.maxAttempts !== 1 ? { max_attempts: a.maxAttempts } : {}),
    ...(a.idempotent ? { idempotent: true } : {}),
    ...(a.region ? { region: a.region } : {}),
    ...(a.argvPrefix?.length ? { argv_prefix: a.argvPrefix } : {}),
    ...(a.parameters.exclusive?.length ? { exclusive: a.parameters.exclusive } : {}),
    parameters,
  };
  const header = `# Generated by 'stackwire ingest' from ${a.sourcePath ?? a.entryPoint} (${a.origin ?? 'inferred'}, sha256 ${a.contentHash.slice(0, 12)}).\n# To correct it, put the fields to change in ${a.sourcePath ?? a.entryPoint}${OVERRIDE_SUFFIX}.\n`;
  return header + YAML.stringify(doc, { lineWidth: 0 });
}
