/** How StackStorm names become Stackwire names (ingest/stackstorm.ts, its workflow and rule converters). Pure. */

/** An action's name under a pack: lower-case, `_` for other characters (`MyPack` actions keep their pack). */
export function st2LocalName(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9_-]+/g, '_');
}

/** A StackStorm action ref (`pack.Name`) as the Stackwire action it was imported as. */
export function st2ActionName(ref: string): string {
  const dot = ref.indexOf('.');
  return dot < 0 ? ref : `${ref.slice(0, dot)}.${st2LocalName(ref.slice(dot + 1))}`;
}
