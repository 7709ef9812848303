/**
 * Ships a running script's output to Postgres a few times a second, so `stackwire execution logs
 * --follow` (and `stackwire run`) show it live. Redacts secrets, caps what it stores per execution,
 * and never puts the output into workflow history.
 */
import { StringDecoder } from 'node:string_decoder';
import { appendLogs, nextSeq } from '../db/logs.js';
import { isUnreachable, type Pool } from '../db/pool.js';
import { outputText } from '../lib/capped-output.js';
import { redact } from '../lib/secrets.js';

export class LogShipper {
  private pending: { stream: 'stdout' | 'stderr' | 'system'; data: string }[] = [];
  private seq = 0;
  private stored = 0;
  private capped = false;
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly pool: Pool,
    private readonly executionId: string,
    private readonly secrets: string[],
    private readonly capBytes: number,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** `seq`: the log's next sequence number when the caller knows it (recordStart answers it), else read here. */
  async start(attempt: number, seq?: number): Promise<void> {
    this.seq = seq ?? (await nextSeq(this.pool, this.executionId));
    // Before any output pushed already (a script may start before its log does).
    if (attempt > 1) this.pending.unshift({ stream: 'system', data: `--- attempt ${attempt} ---\n` });
    this.timer = setInterval(() => void this.flush(), 250);
  }

  /** Per stream, the redacted end of what came so far, held back until we know no secret continues in it. */
  private carry: Record<string, string> = { stdout: '', stderr: '', system: '' };

  private get hold(): number {
    return Math.max(0, ...this.secrets.map((s) => s.length - 1));
  }

  /** Per stream: a character whose bytes came in two chunks is decoded whole. */
  private decoders = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8'), system: new StringDecoder('utf8') };

  push(stream: 'stdout' | 'stderr' | 'system', chunk: Buffer | string, final = false): void {
    if (this.capped) return;
    const text = typeof chunk === 'string' ? chunk : this.decoders[stream].write(chunk);
    const joined = redact(this.carry[stream] + outputText(text), this.secrets);
    const cut = final ? joined.length : Math.max(0, joined.length - this.hold);
    this.carry[stream] = joined.slice(cut);
    let data = joined.slice(0, cut);
    if (this.stored + data.length > this.capBytes) {
      data = data.slice(0, Math.max(0, this.capBytes - this.stored));
      this.capped = true;
    }
    this.stored += data.length;
    const last = this.pending[this.pending.length - 1];
    if (last && last.stream === stream && last.data.length < 16384) last.data += data;
    else if (data) this.pending.push({ stream, data });
    if (this.capped)
      this.pending.push({ stream: 'system', data: `\n[log capped at ${this.capBytes} bytes; the execution record keeps the start of each stream]\n` });
  }

  flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      const batch = this.pending.splice(0).map((e) => ({ ...e, seq: this.seq++ }));
      if (!batch.length) return;
      try {
        await appendLogs(this.pool, this.executionId, batch);
      } catch (err) {
        this.seq -= batch.length;
        // The database is restarting: keep the lines for the next flush (nothing was written).
        if (isUnreachable(err)) this.pending.unshift(...batch);
        this.onError(err);
      }
    });
    return this.flushing;
  }

  /**
   * Ends the shipping and hands over the lines not yet written, numbered, once any flush under way has
   * ended: the caller writes them with the execution's end, in one statement (db/executions.ts
   * recordFinish), so a short script's output and its end cost one round trip, not two.
   */
  async finish(): Promise<LogBatch> {
    if (this.timer) clearInterval(this.timer);
    for (const s of ['stdout', 'stderr', 'system'] as const) {
      const rest = this.decoders[s].end(); // bytes of a character that never ended: U+FFFD
      if (this.carry[s] || rest) this.push(s, rest, true);
    }
    await this.flushing;
    return this.pending.splice(0).map((e) => ({ ...e, seq: this.seq++ }));
  }
}

export type LogBatch = { seq: number; stream: 'stdout' | 'stderr' | 'system'; data: string }[];
