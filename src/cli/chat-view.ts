/**
 * ChatView writes a conversation to a terminal or a pipe: each agent's
 * reply on a line that grows as its pieces stream in, and notes (stage
 * transitions, interruptions) and errors on lines of their own. It knows
 * whether the cursor is in the middle of a line, so whatever comes next
 * starts on a fresh one. With `color`, notes are dimmed, errors red and
 * speakers bold; without it (a pipe, NO_COLOR) the output is plain text.
 */
export class ChatView {
  /** The agent whose reply the current line holds, if any. */
  private speaker: string | undefined;
  private atLineStart = true;
  /** Whether the last thing written ends in white space (or nothing was). */
  private spaced = true;

  constructor(
    private readonly out: NodeJS.WritableStream,
    private readonly color: boolean,
  ) {}

  /** reply appends a piece of an agent's reply, starting the agent's line if needed. */
  reply(agent: string, text: string): void {
    if (this.speaker !== agent) {
      this.endLine();
      this.write(this.style("1", "22", `${agent || "agent"}>`) + " ");
      this.speaker = agent;
    }
    this.write(printable(text));
  }

  /** user prints a line the user said (input that was not typed here). */
  user(text: string): void {
    this.endLine();
    this.write(`${this.style("1", "22", "you>")} ${printable(text)}\n`);
  }

  /** mark appends a marker such as "[interrupted]" to the current line. */
  mark(text: string): void {
    this.write(`${this.spaced ? "" : " "}${this.style("2", "22", text)}`);
  }

  /** note prints a line about the conversation: a stage transition, the session. */
  note(text: string): void {
    this.endLine();
    this.write(`${this.style("2", "22", `· ${text}`)}\n`);
  }

  /** error prints a line about something that went wrong. */
  error(text: string): void {
    this.endLine();
    this.write(`${this.style("31", "39", `! ${text}`)}\n`);
  }

  /** endLine ends the current line, if it has anything on it. */
  endLine(): void {
    if (!this.atLineStart) this.write("\n");
    this.speaker = undefined;
  }

  /**
   * cursorMoved tells the view that something else wrote to the terminal:
   * the line editor echoed Enter (the cursor is at the start of a line) or
   * drew the prompt (it is not).
   */
  cursorMoved(atLineStart: boolean): void {
    this.atLineStart = atLineStart;
    this.spaced = true;
    this.speaker = undefined;
  }

  private write(text: string): void {
    if (text === "") return;
    this.out.write(text);
    this.atLineStart = text.endsWith("\n");
    this.spaced = /\s$/.test(text);
  }

  private style(on: string, off: string, text: string): string {
    return this.color ? `\x1b[${on}m${text}\x1b[${off}m` : text;
  }
}

/**
 * printable drops control characters other than newline and tab from text
 * an agent sent, so a reply cannot move the cursor, clear the screen or
 * retitle the terminal.
 */
export function printable(text: string): string {
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, "");
}
