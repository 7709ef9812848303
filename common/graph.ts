/**
 * Dependency graphs of components: cycle detection (naming the cycle) and ordering into waves —
 * dependencies first, independent components together. Pure: workflows import it.
 */

/** edges: component → the components it depends on. Returns a cycle as [a, b, …, a], or undefined. */
export function findCycle(nodes: string[], edges: Map<string, string[]>): string[] | undefined {
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (n: string): string[] | undefined => {
    state.set(n, 'visiting');
    stack.push(n);
    for (const d of [...(edges.get(n) ?? [])].sort()) {
      const s = state.get(d);
      if (s === 'visiting') return [...stack.slice(stack.indexOf(d)), d];
      if (s === undefined) {
        const c = visit(d);
        if (c) return c;
      }
    }
    stack.pop();
    state.set(n, 'done');
    return undefined;
  };
  for (const n of [...nodes].sort()) {
    if (state.get(n) === undefined) {
      const c = visit(n);
      if (c) return c;
    }
  }
  return undefined;
}

/**
 * Waves for deploying `selected` components: each wave holds components whose dependencies (within the
 * selection) are in earlier waves. Throws on a cycle.
 */
export function dependencyWaves(selected: string[], edges: Map<string, string[]>): string[][] {
  const set = new Set(selected);
  const inSel = (n: string) => (edges.get(n) ?? []).filter((d) => set.has(d));
  const cycle = findCycle(selected, new Map(selected.map((n) => [n, inSel(n)])));
  if (cycle) throw new Error(`dependency cycle: ${cycle.join(' → ')}`);
  const placed = new Set<string>();
  const waves: string[][] = [];
  while (placed.size < set.size) {
    const wave = [...set].filter((n) => !placed.has(n) && inSel(n).every((d) => placed.has(d))).sort();
    waves.push(wave);
    for (const n of wave) placed.add(n);
  }
  return waves;
}

/** Everything `name` depends on, transitively (or, with reverse, everything that depends on it). */
export function closure(name: string, edges: Map<string, string[]>, reverse = false): string[] {
  const adj = reverse ? invert(edges) : edges;
  const seen = new Set<string>();
  const todo = [...(adj.get(name) ?? [])];
  while (todo.length) {
    const n = todo.pop()!;
    if (seen.has(n)) continue;
    seen.add(n);
    todo.push(...(adj.get(n) ?? []));
  }
  return [...seen].sort();
}

export function invert(edges: Map<string, string[]>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [n, deps] of edges) for (const d of deps) out.set(d, [...(out.get(d) ?? []), n]);
  return out;
}
