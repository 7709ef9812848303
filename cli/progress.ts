/** A one-line progress bar on stderr (only on a terminal; pipes and CI logs get the summary alone). */
export interface Progress {
  update(done: number, note?: string): void;
  done(): void;
}

/** `[#####-----] 50% 5/10`: a bar of `width` characters with the percentage and the counts. */
export function barText(done: number, total: number, width = 30): string {
  const frac = total > 0 ? Math.min(1, done / total) : 1;
  const filled = Math.round(frac * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${Math.round(frac * 100)}% ${done}/${total}`;
}

export function progressBar(label: string, total: number, enabled = process.stderr.isTTY): Progress {
  let last = 0;
  const draw = (done: number, note = '') => process.stderr.write(`\r\x1b[K${label} ${barText(done, total)}${note ? ` ${note}` : ''}`);
  return {
    update(done, note) {
      if (!enabled || (Date.now() - last < 80 && done < total)) return;
      last = Date.now();
      draw(done, note);
    },
    done() {
      if (enabled) process.stderr.write('\r\x1b[K');
    },
  };
}
