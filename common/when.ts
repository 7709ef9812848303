/** Points in time as people type them (`--since 30d`, `since=2026-12-01`), shared by the API and the CLI. Pure: `now` is passed in. */

/** What parseWhen accepts, for error messages. */
export const WHEN_FORMS =
  'a date (2026-12-01, midnight UTC), an ISO 8601 time (2026-12-01T08:00:00Z; no zone means UTC) or a duration back from now (30d, 12h, 45m)';

const UNIT_MS = { d: 86_400_000, h: 3_600_000, m: 60_000 } as const;
const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/** A date, an ISO 8601 time or a duration back from `nowMs`; undefined for anything else (impossible dates such as 2026-02-30 included). */
export function parseWhen(text: string, nowMs: number): Date | undefined {
  const s = text.trim();
  const back = /^([1-9]\d{0,5})([dhm])$/.exec(s);
  if (back) return new Date(nowMs - Number(back[1]) * UNIT_MS[back[2] as keyof typeof UNIT_MS]);
  const m = ISO.exec(s);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, sec, zone] = m;
  const day = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d)));
  if (day.getUTCFullYear() !== Number(y) || day.getUTCMonth() !== Number(mo) - 1 || day.getUTCDate() !== Number(d)) return undefined;
  if (h !== undefined && (Number(h) > 23 || Number(mi) > 59 || Number(sec ?? 0) > 59)) return undefined;
  const t = Date.parse(h !== undefined && zone === undefined ? `${s}Z` : s);
  return Number.isNaN(t) ? undefined : new Date(t);
}
