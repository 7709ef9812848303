/** Plain-text charts and figures for the terminal: bars of counts, durations, rates. */

export const BAR_OK = '█';
export const BAR_FAILED = '░';
/** The longest bar, in characters. */
export const BAR_WIDTH = 40;

/**
 * How many deploys one character stands for: 1 while the largest count fits in BAR_WIDTH, else the
 * smallest whole number that makes it fit.
 */
export function barScale(max: number, width = BAR_WIDTH): number {
  return Math.max(1, Math.ceil(max / width));
}

/** A bar of `ok` then `failed` characters, each part `count / scale` long (rounded up, so no count hides). */
export function bar(ok: number, failed: number, scale: number): string {
  return BAR_OK.repeat(Math.ceil(ok / scale)) + BAR_FAILED.repeat(Math.ceil(failed / scale));
}

/** 45s, 12m 5s, 3h 20m, 2d 4h: the two largest units, rounded to the second; '-' for none. */
export function formatDuration(seconds: number | null): string {
  if (seconds === null) return '-';
  let s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const units: [string, number][] = [
    ['d', 86_400],
    ['h', 3_600],
    ['m', 60],
    ['s', 1],
  ];
  const parts: string[] = [];
  for (const [u, n] of units) {
    const k = Math.floor(s / n);
    s -= k * n;
    if (k || parts.length) parts.push(`${k}${u}`);
    if (parts.length === 2) break;
  }
  return parts.filter((p) => !p.startsWith('0')).join(' ');
}

/** 0.25 → "25.0%"; '-' for none. */
export function formatRate(r: number | null): string {
  return r === null ? '-' : `${(r * 100).toFixed(1)}%`;
}

/** A figure with at most two decimals (1, 1.5, 0.33). */
export function formatNumber(n: number): string {
  return String(Math.round(n * 100) / 100);
}
