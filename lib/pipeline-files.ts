/** Several pipeline files validated together (a pipeline and its sub-pipelines), and the actions a file names (for loading the catalog first). */
import { LineCounter, parseDocument } from 'yaml';
import type { PipelineDef, PipelineProblem } from '../common/pipeline.js';
import { FileCheck, isObj, stepsOf, validatePipelineText, type PipelineCatalog } from './pipeline-validate.js';

/** The action names and the pipeline name a file mentions, read leniently (for loading the catalog first). */
export function pipelineFileRefs(text: string): { name?: string; actions: string[] } {
  let data: unknown;
  try {
    data = parseDocument(text).toJS({ maxAliasCount: 100 });
  } catch {
    return { actions: [] };
  }
  if (!isObj(data)) return { actions: [] };
  const actions = stepsOf(data).flatMap((s) => (typeof s.step.action === 'string' ? [s.step.action] : []));
  return { ...(typeof data.name === 'string' ? { name: data.name } : {}), actions };
}

type ValidFile = { file: string; name: string; steps: number; definition: PipelineDef };

/** Validates files together: each may call the others as sub-pipelines; two files with one name are a problem. */
export function validatePipelineFiles(
  files: { path: string; content: string }[],
  catalog: Omit<PipelineCatalog, 'pipelines'>,
): { problems: PipelineProblem[]; pipelines: ValidFile[] } {
  const names = files.map((f) => pipelineFileRefs(f.content).name);
  const problems: PipelineProblem[] = [];
  const pipelines: ValidFile[] = [];
  files.forEach((f, i) => {
    const others = new Set(names.filter((n, j): n is string => j !== i && n !== undefined));
    const r = validatePipelineText(f.content, f.path, { ...catalog, pipelines: others });
    problems.push(...r.problems);
    const twin = names.findIndex((n, j) => j < i && n !== undefined && n === names[i]);
    if (twin >= 0) {
      const lc = new LineCounter();
      const check = new FileCheck(f.path, f.content, parseDocument(f.content, { lineCounter: lc }), lc);
      check.add(['name'], `pipeline "${names[i]}" is also defined in ${files[twin].path}; pipeline names are unique`);
      problems.push(...check.problems);
    } else if (r.definition) pipelines.push({ file: f.path, name: r.definition.name, steps: r.definition.steps.length, definition: r.definition });
  });
  return { problems, pipelines };
}
