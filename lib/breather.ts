/**
 * Long synchronous loops (analysing 20,000 scripts, rendering their YAML, comparing them with the
 * catalog) hold the event loop: an activity's heartbeats, the worker's other tasks and its metrics
 * server wait behind them. A breather yields to the event loop every `every` calls — a macrotask
 * (setImmediate), so timers and I/O run, not just other promises.
 */
export type Breather = () => Promise<void> | undefined;

export function breather(every = 200): Breather {
  let n = 0;
  return () => {
    if (++n % every !== 0) return undefined;
    return new Promise<void>((resolve) => setImmediate(resolve));
  };
}
