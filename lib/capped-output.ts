/** Output kept of a run: capped, with a short tail, secrets redacted before anything is cut. */
import { redact } from './secrets.js';

/**
 * A script's bytes as text that Postgres stores: UTF-8, each invalid sequence as U+FFFD (as Node
 * decodes it), and each NUL byte too (a text or jsonb value cannot hold one: the statement would fail).
 */
export function outputText(bytes: Buffer | string): string {
  return (typeof bytes === 'string' ? bytes : bytes.toString('utf8')).replaceAll('\0', '\uFFFD');
}

/**
 * Keeps the first `cap` bytes of a stream and counts the rest; also keeps a short tail. Secrets are
 * redacted before either is cut, so a secret across the cut never leaves a clear prefix behind.
 */
export class CappedOutput {
  private chunks: Buffer[] = [];
  private kept = 0;
  total = 0;
  private tailBuf = Buffer.alloc(0);
  private readonly slack: number;
  constructor(
    private readonly cap: number,
    private readonly secrets: string[],
    private readonly tailBytes = 2048,
  ) {
    this.slack = Math.max(0, ...secrets.map((s) => Buffer.byteLength(s)));
  }
  push(chunk: Buffer): void {
    this.total += chunk.length;
    const keep = this.cap + this.slack;
    if (this.kept < keep) {
      const take = chunk.subarray(0, keep - this.kept);
      this.chunks.push(take);
      this.kept += take.length;
    }
    this.tailBuf = Buffer.concat([this.tailBuf, chunk]);
    const tailKeep = this.tailBytes + this.slack;
    if (this.tailBuf.length > tailKeep) this.tailBuf = this.tailBuf.subarray(this.tailBuf.length - tailKeep);
  }
  get truncated(): boolean {
    return this.total > this.cap;
  }
  text(): string {
    const s = redact(outputText(Buffer.concat(this.chunks)), this.secrets).slice(0, this.cap);
    return this.truncated ? `${s}\n[… ${this.total - this.cap} more bytes not kept]` : s;
  }
  tail(): string {
    const s = redact(outputText(this.tailBuf), this.secrets);
    return s.slice(-this.tailBytes);
  }
}
