/** Output kept of a run: capped, with a short tail, secrets redacted before anything is cut. */
import { redact } from './secrets.js';

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
    const s = redact(Buffer.concat(this.chunks).toString('utf8'), this.secrets).slice(0, this.cap);
    return this.truncated ? `${s}\n[… ${this.total - this.cap} more bytes not kept]` : s;
  }
  tail(): string {
    const s = redact(this.tailBuf.toString('utf8'), this.secrets);
    return s.slice(-this.tailBytes);
  }
}
