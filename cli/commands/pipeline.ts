/** stackwire pipeline …: pipelines as code. `validate` checks pipeline files through the API, against the server's catalog. */
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import type { PipelineValidateRequest, PipelineValidateResponse } from '../../common/api-types.js';
import { ExitError, client, out, printJson } from '../shared.js';

/** What POST /api/v1/pipelines/validate takes at once (api/routes.ts). */
const MAX_FILES = 100;
const MAX_FILE_BYTES = 1024 * 1024;
const MAX_TOTAL_BYTES = 15 * 1024 * 1024;

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** Each argument a file, or a folder's *.yml and *.yaml (not its subfolders), as {path, content}; exit 2 when one cannot be read. */
export function pipelineFiles(targets: string[]): PipelineValidateRequest['files'] {
  return yamlFiles(targets, 'pipeline');
}

/** As pipelineFiles, for pipeline or rule files (the messages name them). */
export function yamlFiles(targets: string[], kind: 'pipeline' | 'rule'): { path: string; content: string }[] {
  const files: PipelineValidateRequest['files'] = [];
  const seen = new Set<string>();
  const read = <T>(p: string, what: () => T): T => {
    try {
      return what();
    } catch (e) {
      throw new ExitError(
        2,
        `cannot read ${p}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}. Give ${kind} files (.yml) or folders holding them.`,
      );
    }
  };
  for (const target of targets) {
    const isDir = read(target, () => fs.statSync(target).isDirectory());
    const paths = isDir
      ? read(target, () => fs.readdirSync(target))
          .filter((f) => /\.ya?ml$/.test(f))
          .sort()
          .map((f) => path.join(target, f))
      : [target];
    if (isDir && paths.length === 0) throw new ExitError(2, `${target} holds no .yml or .yaml files.`);
    for (const p of paths) {
      if (seen.has(path.resolve(p))) continue;
      seen.add(path.resolve(p));
      const content = read(p, () => fs.readFileSync(p, 'utf8'));
      if (Buffer.byteLength(content) > MAX_FILE_BYTES)
        throw new ExitError(
          2,
          `${p} is over 1 MB; a ${kind} file must be smaller (${kind === 'pipeline' ? 'split it into sub-pipelines' : 'spread its rules over several files'}).`,
        );
      files.push({ path: p, content });
    }
  }
  if (files.length > MAX_FILES) throw new ExitError(2, `${files.length} files given; at most ${MAX_FILES} are validated at once: give fewer at a time.`);
  if (files.reduce((n, f) => n + Buffer.byteLength(f.content), 0) > MAX_TOTAL_BYTES)
    throw new ExitError(2, 'the files come to more than 15 MB together; validate them in smaller groups.');
  return files;
}

/** Compiler-style lines `file:line:col: message`, then a summary line. */
export function printValidation(r: PipelineValidateResponse, fileCount: number): void {
  for (const p of r.problems) out(`${p.file}:${p.line}:${p.column}: ${p.message}`);
  if (r.ok) {
    out(`${plural(fileCount, 'pipeline file')} valid: ${r.pipelines.map((p) => `${p.name} (${plural(p.steps, 'step')})`).join(', ')}`);
  } else {
    const bad = new Set(r.problems.map((p) => p.file)).size;
    out(`${plural(r.problems.length, 'problem')} in ${bad} of ${plural(fileCount, 'file')}`);
  }
}

export function registerPipelineCommands(program: Command): Command {
  const pipeline = program.command('pipeline').description('pipelines as code: validate pipeline files (.stackwire/pipelines/*.yml)');
  pipeline
    .command('validate')
    .description(
      'check pipeline files against the schema, the catalog (actions and their parameters) and each other: every problem as file:line:col; exit 0 when valid, 1 when not',
    )
    .argument('<file...>', 'pipeline files, or folders of *.yml / *.yaml files')
    .option('--json', 'print the result as JSON ({ok, problems, pipelines})')
    .action(async (targets: string[], opts: { json?: boolean }, cmd: Command) => {
      const files = pipelineFiles(targets);
      const r = await client(cmd).validatePipelines({ files });
      if (opts.json) printJson(r);
      else printValidation(r, files.length);
      process.exitCode = r.ok ? 0 : 1;
    });
  return pipeline;
}
