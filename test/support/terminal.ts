import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { repoRoot } from "./process.js";

/**
 * Screen is what a terminal shows after a program's output: a small
 * terminal model that applies printable text, CR, LF, backspace, tab and
 * the cursor and erase sequences a line editor uses (CSI A B C D G K J);
 * styles (CSI m) and modes are ignored. Lines that scroll off the top are
 * kept, so the screen is the whole session top to bottom.
 */
export class Screen {
  private readonly rows: string[][] = [[]];
  private row = 0;
  private col = 0;
  private state: "text" | "esc" | "csi" | "osc" = "text";
  private params = "";

  constructor(private readonly columns: number) {}

  /** feed applies decoded output. */
  feed(text: string): void {
    for (const ch of text) this.step(ch);
  }

  /** lines are the screen's lines, without trailing blanks. */
  lines(): string[] {
    const lines = this.rows.map((r) => Array.from(r, (c) => c ?? " ").join("").trimEnd());
    while (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
    return lines;
  }

  /** text is the screen as one string, a line per row. */
  text(): string {
    return this.lines().join("\n");
  }

  /** cursorLine is the text of the line the cursor is on. */
  cursorLine(): string {
    return Array.from(this.rows[this.row] ?? [], (c) => c ?? " ").join("").trimEnd();
  }

  private line(): string[] {
    while (this.rows.length <= this.row) this.rows.push([]);
    return this.rows[this.row] as string[];
  }

  private step(ch: string): void {
    switch (this.state) {
      case "esc":
        this.state = ch === "[" ? "csi" : ch === "]" ? "osc" : "text";
        this.params = "";
        return;
      case "osc":
        if (ch === "\x07" || ch === "\\") this.state = "text";
        return;
      case "csi":
        if (ch >= "@" && ch <= "~") {
          this.state = "text";
          this.csi(ch, this.params);
        } else {
          this.params += ch;
        }
        return;
      case "text":
        break;
    }
    switch (ch) {
      case "\x1b":
        this.state = "esc";
        return;
      case "\r":
        this.col = 0;
        return;
      case "\n":
        this.row++;
        this.line();
        return;
      case "\b":
        this.col = Math.max(0, this.col - 1);
        return;
      case "\t":
        this.col = Math.min(this.columns - 1, (Math.floor(this.col / 8) + 1) * 8);
        return;
      default:
        if (ch < " " || ch === "\x7f") return;
        if (this.col >= this.columns) {
          this.row++;
          this.col = 0;
        }
        this.line()[this.col] = ch;
        this.col++;
    }
  }

  private csi(final: string, params: string): void {
    const n = Number(params.replace(/^\?/, "").split(";")[0] || "0");
    const count = Math.max(1, n);
    switch (final) {
      case "A":
        this.row = Math.max(0, this.row - count);
        return;
      case "B":
        this.row += count;
        this.line();
        return;
      case "C":
        this.col = Math.min(this.columns - 1, this.col + count);
        return;
      case "D":
        this.col = Math.max(0, this.col - count);
        return;
      case "G":
        this.col = Math.min(this.columns - 1, count - 1);
        return;
      case "K": {
        const line = this.line();
        if (n === 0) line.length = Math.min(line.length, this.col);
        else if (n === 1) for (let i = 0; i <= this.col && i < line.length; i++) line[i] = " ";
        else line.length = 0;
        return;
      }
      case "J":
        if (n === 0) {
          const line = this.line();
          line.length = Math.min(line.length, this.col);
          this.rows.length = this.row + 1;
        } else if (n === 2) {
          for (const r of this.rows) r.length = 0;
        }
        return;
      default:
        // Styles (m), modes (h, l) and the rest change nothing on the screen model.
        return;
    }
  }
}

/**
 * Terminal is a program running in a pseudo-terminal (through
 * test/support/pty-run.py): a test types into it and waits for what its
 * screen shows.
 */
export class Terminal {
  readonly screen: Screen;
  /** Everything the program wrote, escape sequences included. */
  raw = "";
  readonly exited: Promise<number>;
  private readonly child: ChildProcess;
  private readonly waiters = new Set<() => void>();
  private exitCode: number | undefined;

  constructor(command: string, args: string[], opts: { env?: NodeJS.ProcessEnv; columns?: number; rows?: number } = {}) {
    const columns = opts.columns ?? 160;
    this.screen = new Screen(columns);
    this.child = spawn("python3", [join(repoRoot, "test/support/pty-run.py"), String(columns), String(opts.rows ?? 50), command, ...args], {
      cwd: repoRoot,
      env: { ...process.env, TERM: "xterm-256color", ...opts.env },
      stdio: ["pipe", "pipe", "inherit"],
    });
    // Keys typed after the program ended go nowhere.
    this.child.stdin?.on("error", () => undefined);
    const decoder = new TextDecoder();
    this.child.stdout?.on("data", (chunk: Buffer) => {
      const text = decoder.decode(chunk, { stream: true });
      this.raw += text;
      this.screen.feed(text);
      this.notify();
    });
    this.exited = new Promise((resolve) => {
      const exit = (code: number) => {
        if (this.exitCode !== undefined) return;
        this.exitCode = code;
        resolve(code);
        this.notify();
      };
      // "close" comes after the last output was read, unlike "exit".
      this.child.once("close", (code, signal) => exit(code ?? (signal !== null ? 128 : -1)));
      this.child.once("error", (e) => {
        this.screen.feed(`\r\n[could not start the pseudo-terminal: ${e.message}]`);
        exit(-1);
      });
    });
  }

  /** type sends keys, as typed: "\r" is Enter, "\x03" Ctrl-C, "\x04" Ctrl-D. */
  type(keys: string): void {
    this.child.stdin?.write(keys);
  }

  /**
   * waitFor resolves once the screen satisfies `check`; it fails when the
   * program exits first or after `timeoutMs` (a safety net), showing the
   * screen.
   */
  waitFor(what: string, check: (screen: Screen) => boolean, timeoutMs = 20_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(test);
      };
      const test = () => {
        if (check(this.screen)) {
          done();
          resolve();
        } else if (this.exitCode !== undefined) {
          done();
          reject(new Error(`the program exited (${this.exitCode}) before the screen showed ${what}; screen:\n${this.screen.text()}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`the screen did not show ${what} within ${timeoutMs}ms; screen:\n${this.screen.text()}`));
      }, timeoutMs);
      this.waiters.add(test);
      test();
    });
  }

  /** waitForText resolves once the screen contains `text`. */
  waitForText(text: string, timeoutMs?: number): Promise<void> {
    return this.waitFor(JSON.stringify(text), (s) => s.text().includes(text), timeoutMs);
  }

  /** stop ends the program (if it still runs) and waits for it. */
  async stop(): Promise<number> {
    if (this.exitCode === undefined) this.child.kill("SIGTERM");
    return this.exited;
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }
}
