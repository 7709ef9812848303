/**
 * StackStorm `local-shell-cmd` actions: a `cmd` string with `{{ parameter }}` templates. Pure (the
 * workflow shows the masked command line), so no shell-parsing library: the small tokenizer below.
 *
 * Without shell syntax the command is split into words the way a shell would (quotes, backslashes)
 * and each template is replaced inside its word: a value is always one literal argv element, never
 * re-split or interpreted. A command that uses shell syntax (pipes, redirections, `$VAR`, globs …)
 * runs under `bash -c`, and its templates become quoted references to environment variables
 * (`"${ST2_PARAM_name}"`) that carry the values: the text of the command never holds a value.
 */

const TEMPLATE = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;
const MARK = '\u0001';
/** Characters that mean shell syntax when outside quotes. */
const SHELL_CHARS = new Set(['|', '&', ';', '<', '>', '(', ')', '$', '`', '*', '?', '[', ']', '~', '#', '{', '}']);

export class CmdTemplateError extends Error {
  override name = 'CmdTemplateError';
}

/** The parameter names a cmd refers to. Jinja beyond `{{ name }}` is refused with what to do. */
export function cmdTemplateRefs(cmd: string): string[] {
  const rest = cmd.replace(TEMPLATE, '');
  if (/\{\{|\{%/.test(rest))
    throw new CmdTemplateError(
      `cmd ${JSON.stringify(cmd)} uses Jinja beyond {{ parameter }} (filters, expressions or {% %} blocks); write a script action instead`,
    );
  return [...new Set([...cmd.matchAll(TEMPLATE)].map((m) => m[1]))];
}

export function paramEnvName(name: string): string {
  return `ST2_PARAM_${name}`;
}

/** Splits a command like a POSIX shell would (no expansion); `shell` says it uses syntax beyond words. */
function tokenize(cmd: string): { words: string[]; shell: boolean } {
  const words: string[] = [];
  let word: string | undefined;
  let shell = false;
  for (let i = 0; i < cmd.length; i++) {
    const c = cmd[i];
    if (c === ' ' || c === '\t' || c === '\n') {
      if (c === '\n') shell = true;
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if (c === "'") {
      const end = cmd.indexOf("'", i + 1);
      if (end < 0) throw new CmdTemplateError(`cmd ${JSON.stringify(cmd)} has an unterminated ' quote`);
      word = (word ?? '') + cmd.slice(i + 1, end);
      i = end;
    } else if (c === '"') {
      let s = '';
      let j = i + 1;
      for (; j < cmd.length && cmd[j] !== '"'; j++) {
        if (cmd[j] === '\\' && '"\\$`\n'.includes(cmd[j + 1] ?? '')) s += cmd[++j];
        else {
          if (cmd[j] === '$' || cmd[j] === '`') shell = true;
          s += cmd[j];
        }
      }
      if (j >= cmd.length) throw new CmdTemplateError(`cmd ${JSON.stringify(cmd)} has an unterminated " quote`);
      word = (word ?? '') + s;
      i = j;
    } else if (c === '\\') {
      word = (word ?? '') + (cmd[i + 1] ?? '');
      i++;
    } else {
      if (SHELL_CHARS.has(c) && !(c === '#' && word !== undefined) && !(c === '~' && word !== undefined)) shell = true;
      word = (word ?? '') + c;
    }
  }
  if (word !== undefined) words.push(word);
  return { words, shell };
}

/** The cmd with each template replaced by a quoted environment reference, quote-context aware. */
export function shellText(cmd: string): string {
  let out = '';
  let state: 'none' | 'single' | 'double' = 'none';
  for (let i = 0; i < cmd.length; i++) {
    TEMPLATE.lastIndex = i;
    const m = cmd[i] === '{' ? TEMPLATE.exec(cmd) : null;
    if (m && m.index === i) {
      const ref = `\${${paramEnvName(m[1])}}`;
      out += state === 'none' ? `"${ref}"` : state === 'double' ? ref : `'"${ref}"'`;
      i += m[0].length - 1;
      continue;
    }
    const c = cmd[i];
    if (state === 'none' && c === '\\') {
      out += c + (cmd[i + 1] ?? '');
      i++;
      continue;
    }
    if (state === 'double' && c === '\\') {
      out += c + (cmd[i + 1] ?? '');
      i++;
      continue;
    }
    if (c === "'" && state !== 'double') state = state === 'single' ? 'none' : 'single';
    else if (c === '"' && state !== 'single') state = state === 'double' ? 'none' : 'double';
    out += c;
  }
  return out;
}

export interface CmdPlan {
  argv: string[];
  /** Environment variables carrying the template values (shell form only). */
  env: Record<string, string>;
  shell: boolean;
}

/** How a cmd runs with these (already stringified) parameter values. */
export function planCmd(cmd: string, values: Record<string, string>): CmdPlan {
  const refs = cmdTemplateRefs(cmd);
  const missing = refs.filter((r) => values[r] === undefined);
  if (missing.length)
    throw new CmdTemplateError(`cmd refers to ${missing.map((m) => `{{ ${m} }}`).join(', ')}, which ${missing.length > 1 ? 'have' : 'has'} no value`);
  const marked = cmd.replace(TEMPLATE, (_m, name: string) => `${MARK}${name}${MARK}`);
  const { words, shell } = tokenize(marked);
  if (shell) {
    const env: Record<string, string> = {};
    for (const r of refs) env[paramEnvName(r)] = values[r];
    return { argv: ['bash', '-c', shellText(cmd)], env, shell: true };
  }
  if (words.length === 0) throw new CmdTemplateError('cmd is empty: there is nothing to run');
  const re = new RegExp(`${MARK}([A-Za-z0-9_]+)${MARK}`, 'g');
  return { argv: words.map((w) => w.replace(re, (_m, name: string) => values[name])), env: {}, shell: false };
}
