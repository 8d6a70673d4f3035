// Progress bars on stderr: redrawn in place on a terminal, a line per 10 % step otherwise (logs,
// CI), so long work always shows it is moving.

export class ProgressBar {
  private lastDecile = -1;
  private lastDraw = 0;
  private readonly started = Date.now();
  private readonly tty: boolean;

  constructor(private readonly label: string, private total: number, private readonly stream: NodeJS.WriteStream = process.stderr) {
    this.tty = Boolean(stream.isTTY);
  }

  update(done: number, total = this.total): void {
    this.total = total;
    const share = total > 0 ? Math.min(1, done / total) : 1;
    const elapsed = (Date.now() - this.started) / 1000;
    const text = `${this.label.padEnd(10)} ${bar(share)} ${String(done).padStart(String(total).length)}/${total} ${(share * 100).toFixed(0).padStart(3)}% ${elapsed.toFixed(1)}s`;
    if (this.tty) {
      const now = Date.now();
      if (done < total && now - this.lastDraw < 80) return;
      this.lastDraw = now;
      this.stream.write(`\r${text}\x1b[K${done >= total ? '\n' : ''}`);
    } else {
      const decile = Math.floor(share * 10);
      if (decile === this.lastDecile) return;
      this.lastDecile = decile;
      this.stream.write(`${text}\n`);
    }
  }
}

function bar(share: number, width = 28): string {
  const full = Math.round(share * width);
  return `[${'#'.repeat(full)}${'.'.repeat(width - full)}]`;
}
