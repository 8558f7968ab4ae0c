/**
 * table renders rows as aligned columns under a header.
 */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)].join("\n") + "\n";
}

/**
 * clip shortens text for a table cell, on one line.
 */
export function clip(text: string, max = 40): string {
  const one = text.replace(/\s+/g, " ").trim();
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}

/**
 * Progress reports how far a long operation got, on stderr, when stderr is
 * a terminal (or when asked to); it never writes to stdout, so output
 * piped elsewhere stays clean.
 */
export class Progress {
  private last = 0;

  constructor(
    private readonly err: NodeJS.WritableStream & { isTTY?: boolean },
    private readonly enabled: boolean,
  ) {}

  /** Progress.for decides from the stream and the environment whether to report. */
  static for(err: NodeJS.WritableStream & { isTTY?: boolean }, env: NodeJS.ProcessEnv): Progress {
    return new Progress(err, err.isTTY === true || env["SWITCHBOARD_PROGRESS"] === "1");
  }

  /** update reports the current state, at most every 100ms on a terminal. */
  update(text: string): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (this.err.isTTY === true) {
      if (now - this.last < 100) return;
      this.last = now;
      this.err.write(`\r\x1b[K${text}`);
    } else {
      this.err.write(`${text}\n`);
    }
  }

  /** done ends the report with a last line. */
  done(text: string): void {
    if (!this.enabled) return;
    this.err.write(this.err.isTTY === true ? `\r\x1b[K${text}\n` : `${text}\n`);
  }
}

/**
 * exitWhenPipeCloses makes a closed output pipe end the process quietly
 * with status 0 (`switchboard sessions show ID | head -1`): the reader
 * has what it wanted, as a Unix tool killed by SIGPIPE would take it,
 * which Node does not get (it ignores SIGPIPE, so every later write fails
 * with EPIPE and, unhandled, crashes with a stack trace). On stderr a
 * closed pipe only loses the message: the command finishes with its own
 * status. Other write errors stay as loud as before.
 */
export function exitWhenPipeCloses(out: NodeJS.WritableStream, err: NodeJS.WritableStream, exit: (code: number) => void): void {
  out.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code !== "EPIPE") throw e;
    exit(0);
  });
  err.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code !== "EPIPE") throw e;
  });
}
