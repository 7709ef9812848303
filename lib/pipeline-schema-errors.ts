/**
 * Ajv's errors against schemas/pipeline.schema.json as one clear message per problem, at the place
 * in the document it concerns (lib/pipeline-validate.ts turns the place into line and column), and
 * the "did you mean" of unknown names.
 */
import type { ErrorObject } from 'ajv';

type Seg = string | number;

/** The errors lib/pipeline-validate.ts reports itself with better messages: a step's kind, `with` without an action, durations. */
export function ownSchemaCheck(e: ErrorObject): boolean {
  return (
    // The schema's one oneOf is a step's kind (Ajv's paths inside a $ref start at the definition).
    e.keyword === 'oneOf' || /\/oneOf\/\d+\/required$/.test(e.schemaPath) || e.keyword === 'dependencies' || e.schemaPath.startsWith('#/definitions/duration/')
  );
}

const TYPE_WORDS: Record<string, string> = {
  string: 'a string',
  integer: 'a whole number',
  number: 'a number',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping',
  null: 'empty',
};

/** A value as a message shows it. */
export function what(v: unknown): string {
  if (v === null || v === undefined) return 'empty';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}…` : s;
}

function alternative(s: unknown): string {
  const o = (s ?? {}) as { $ref?: string; type?: string; items?: { type?: string } };
  if (o.$ref === '#/definitions/expression') return 'a ${{ … }} expression';
  if (o.type === 'array') return o.items?.type === 'string' ? 'a list of names' : 'a list';
  return o.type ? (TYPE_WORDS[o.type] ?? o.type) : 'something else';
}

function segments(pointer: string): Seg[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

/**
 * One message for one Ajv error (verbose mode), or undefined when another error of the list says it
 * better (the branches of a failed anyOf). `atKey`: point at the key (unknown keys), not the value.
 */
export function describeSchemaError(e: ErrorObject, all: ErrorObject[]): { segs: Seg[]; message: string; atKey?: boolean } | undefined {
  // The name's own pattern error: the propertyNames error names the key.
  if (e.schemaPath.includes('/propertyNames/')) return undefined;
  const segs = segments(e.instancePath);
  const failedAlternatives = all.find(
    (x) =>
      x !== e && (x.keyword === 'anyOf' || x.keyword === 'oneOf') && (e.instancePath === x.instancePath || e.instancePath.startsWith(`${x.instancePath}/`)),
  );
  if (failedAlternatives) return undefined;
  const parent = (e.parentSchema ?? {}) as { properties?: Record<string, { description?: string }>; anyOf?: unknown[]; oneOf?: unknown[] };
  const it = `(it is ${what(e.data)})`;
  switch (e.keyword) {
    case 'additionalProperties': {
      const extra = (e.params as { additionalProperty: string }).additionalProperty;
      const known = Object.keys(parent.properties ?? {});
      const c = closest(extra, known);
      return { segs: [...segs, extra], atKey: true, message: `unknown key "${extra}"${c ? ` (did you mean "${c}"?)` : ''}; known keys: ${known.join(', ')}` };
    }
    case 'required': {
      const missing = (e.params as { missingProperty: string }).missingProperty;
      const d = parent.properties?.[missing]?.description?.split(/(?<=\.) /)[0];
      return { segs, message: `"${missing}" is missing${d ? ` (${missing}: ${d})` : ''}` };
    }
    case 'type': {
      const t = (e.params as { type: string }).type;
      if (segs.length === 0) return { segs, message: `a pipeline file is a mapping with at least name and steps ${it}` };
      return {
        segs,
        message: `must be ${t
          .split(',')
          .map((x) => TYPE_WORDS[x] ?? x)
          .join(' or ')} ${it}`,
      };
    }
    case 'pattern':
      return { segs, message: `${what(e.data)} does not match ${(e.params as { pattern: string }).pattern}` };
    case 'enum':
      return { segs, message: `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')} ${it}` };
    case 'minItems':
      return { segs, message: `must list at least ${(e.params as { limit: number }).limit} ${it}` };
    case 'anyOf':
    case 'oneOf':
      return { segs, message: `must be ${((e.keyword === 'anyOf' ? parent.anyOf : parent.oneOf) ?? []).map(alternative).join(' or ')} ${it}` };
    case 'propertyNames': {
      const name = (e.params as { propertyName: string }).propertyName;
      return {
        segs: [...segs, name],
        atKey: true,
        message: `the name ${JSON.stringify(name)} must start with a letter or _ and hold only letters, digits, _ and - (so that \${{ ${segs.join('.')}.<name> }} can read it)`,
      };
    }
    default:
      return { segs, message: `${e.message ?? 'is not valid'} ${it}` };
  }
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length];
}

/** The known name closest to `name`, when it is close enough to be a typo. */
export function closest(name: string, known: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Math.floor(name.length / 3) + 1;
  for (const k of known) {
    const d = distance(name.toLowerCase(), k.toLowerCase());
    if (d < bestD && k !== name) [best, bestD] = [k, d];
  }
  return best;
}
