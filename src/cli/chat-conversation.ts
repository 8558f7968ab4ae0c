import type { MessageInitShape } from "@bufbuild/protobuf";
import type { ConverseRequestSchema, SessionEvent, StreamOpened } from "../gen/switchboard/v1/orchestrator_pb.js";
import { Role } from "../gen/switchboard/v1/turn_pb.js";
import { codePoints, prefixCodePoints } from "../core/session-events.js";
import type { ChatView } from "./chat-view.js";

/**
 * ConverseRequestInit is a Converse request as a plain object.
 */
export type ConverseRequestInit = MessageInitShape<typeof ConverseRequestSchema>;

/**
 * ChatPrompt is the line editor's prompt on a terminal.
 */
export interface ChatPrompt {
  /** show draws the prompt, with what the user has typed so far. */
  show(): void;
  /** hide takes the prompt off the screen while other output prints. */
  hide(): void;
}

/**
 * ChatIo is what a conversation talks to: the request side of the
 * Converse stream, the view, and on a terminal the prompt.
 */
export interface ChatIo {
  send(req: ConverseRequestInit): void;
  /** close half-closes the request side: the server ends the stream once the running turn is done. */
  close(): void;
  view: ChatView;
  /** The prompt, on a terminal; undefined when lines come from a pipe. */
  prompt?: ChatPrompt;
  /** Stops and restarts reading lines, so lines from a pipe wait there rather than in memory. */
  pauseInput?: () => void;
  resumeInput?: () => void;
  newTurnId: () => string;
  /** Lines printed under the session line once the stream is open (the keys). */
  greeting?: string[];
}

/**
 * BargeInKey is the key that barged in: Enter (the line editor then moves
 * to a new line itself), a key that ends the chat, or any other key (what
 * it types starts the next line).
 */
export type BargeInKey = "enter" | "leave" | "other";

interface Turn {
  readonly id: string;
  /** Code points of the reply printed so far: what the user heard. */
  printed: number;
  barged: boolean;
  accepted: boolean;
}

type Queued = { line: string } | { end: true };

/**
 * maxQueuedLines is how many typed lines wait for the running turn before
 * reading input pauses.
 */
export const maxQueuedLines = 64;

/**
 * maxReplayTurns is how many turns of a resumed session are shown; older
 * ones are counted, not printed.
 */
export const maxReplayTurns = 100;

/**
 * helpLines are the keys of `switchboard chat`, as `/help` prints them.
 */
export const helpLines = [
  "Enter sends a line; Enter or any key while the agent replies interrupts it",
  "/quit or Ctrl-D leaves; Ctrl-C interrupts and leaves",
];

/**
 * ChatConversation is the state of `switchboard chat` on one Converse
 * stream: lines wait until the running turn is done, then each is sent as
 * a turn; events print as they arrive; a barge-in cancels the running turn
 * and tells the server how much of the reply was printed. It runs one turn
 * at a time, so every event belongs to the turn on screen.
 */
export class ChatConversation {
  private active: Turn | undefined;
  private readonly queue: Queued[] = [];
  private promptShown = false;
  private live = false;
  private ending = false;
  private inputPaused = false;
  /** Events replayed before `opened` (a resumed session), grouped by turn. */
  private readonly replay = new Map<string, SessionEvent[]>();
  private replayDropped = 0;
  private lastBarged = "";
  /** Turns that failed or were refused. */
  failures = 0;

  constructor(
    private readonly sessionId: string,
    private readonly io: ChatIo,
  ) {}

  /** streaming tells whether a reply is running that a key would interrupt. */
  get streaming(): boolean {
    return this.active !== undefined && !this.active.barged;
  }

  /** submit takes a line the user entered. */
  submit(line: string): void {
    if (this.io.prompt !== undefined) {
      // The line editor echoed Enter: the prompt line is done.
      this.promptShown = false;
      this.io.view.cursorMoved(true);
    }
    if (this.ending) return;
    if (line.trim() !== "") this.queue.push({ line });
    if (this.queue.length >= maxQueuedLines && !this.inputPaused) {
      this.inputPaused = true;
      this.io.pauseInput?.();
    }
    this.pump();
  }

  /** finish ends the conversation after the lines already entered (end of input). */
  finish(): void {
    if (this.ending) return;
    this.queue.push({ end: true });
    this.pump();
  }

  /** leave ends the conversation now: the running reply is interrupted, waiting lines dropped. */
  leave(): void {
    if (this.ending) return;
    this.queue.length = 0;
    if (this.streaming) this.bargeIn("leave");
    this.close();
  }

  /**
   * bargeIn interrupts the running reply: the server records it as heard
   * up to what was printed, and "[interrupted]" ends its line.
   */
  bargeIn(key: BargeInKey): void {
    const turn = this.active;
    if (turn === undefined || turn.barged) return;
    turn.barged = true;
    this.lastBarged = turn.id;
    this.io.send({ kind: { case: "bargeIn", value: { turnId: turn.id, heardChars: turn.printed } } });
    this.io.view.mark("[interrupted]");
    if (key === "enter") {
      // The line editor ends the line; the empty line then brings the prompt.
      this.io.view.cursorMoved(true);
      return;
    }
    this.io.view.endLine();
    if (key === "other") this.pump();
  }

  /** event handles an event from the server. */
  event(ev: SessionEvent): void {
    const kind = ev.kind;
    if (!this.live) {
      if (kind.case === "opened") this.opened(kind.value);
      else this.hold(ev);
      return;
    }
    this.render(ev);
    this.pump();
  }

  private opened(opened: StreamOpened): void {
    const { view } = this.io;
    const session = opened.session;
    if (session === undefined) view.note(`session ${this.sessionId} (new)`);
    else view.note(`session ${this.sessionId}: flow ${session.flowId}@${session.flowVersion}, stage ${session.stage}, version ${session.version}`);
    for (const line of this.io.greeting ?? []) view.note(line);
    if (this.replayDropped > 0) view.note(`${this.replayDropped} earlier turns not shown`);
    const said = new Map<string, string>();
    for (const entry of session?.history ?? []) if (entry.role === Role.USER && entry.text !== "") said.set(entry.turnId, entry.text);
    for (const [turnId, events] of this.replay) {
      const text = said.get(turnId);
      if (text !== undefined) view.user(text);
      for (const ev of asHeard(events)) this.render(ev);
    }
    this.replay.clear();
    // A turn still running goes on on its line.
    this.live = true;
    this.pump();
  }

  /** hold keeps a replayed event until `opened` brings the transcript to show it with. */
  private hold(ev: SessionEvent): void {
    let events = this.replay.get(ev.turnId);
    if (events === undefined) {
      events = [];
      this.replay.set(ev.turnId, events);
      if (this.replay.size > maxReplayTurns) {
        const oldest = this.replay.keys().next().value;
        if (oldest !== undefined) this.replay.delete(oldest);
        this.replayDropped++;
      }
    }
    events.push(ev);
  }

  private render(ev: SessionEvent): void {
    const { view } = this.io;
    const kind = ev.kind;
    let turn = this.active?.id === ev.turnId ? this.active : undefined;
    if (turn === undefined && this.active === undefined && kind.case === "accepted") {
      // A turn this chat did not start (one that was running when it
      // opened the session): show it, and let a key interrupt it.
      turn = this.active = { id: ev.turnId, printed: 0, barged: false, accepted: false };
    }
    switch (kind.case) {
      case "accepted":
        if (turn !== undefined) turn.accepted = true;
        return;
      case "output":
        if (turn?.barged === true || kind.value.text === "") return;
        this.aside(() => view.reply(kind.value.agent, kind.value.text));
        if (turn !== undefined) turn.printed += codePoints(kind.value.text);
        return;
      case "transition":
        this.aside(() => view.note(`stage ${kind.value.from} → ${kind.value.to}`));
        return;
      case "completed": {
        const result = kind.value.result;
        if (turn === undefined || result === undefined) return;
        this.active = undefined;
        if (turn.barged) return;
        this.aside(() => {
          // A reply that was not streamed (a replayed result) prints whole.
          if (turn.printed === 0 && result.output !== "") view.reply(result.agent, result.output);
          view.endLine();
          if (result.isComplete) view.note("the conversation is complete");
          else if (result.session?.waiting !== undefined) view.note(`the session waits: ${result.session.waiting.reason}`);
        });
        return;
      }
      case "interrupted":
        if (turn !== undefined) {
          this.active = undefined;
          // Someone else barged in (another gateway, before this chat took over).
          if (!turn.barged) this.aside(() => (view.mark("[interrupted]"), view.endLine()));
        } else if (ev.turnId !== this.lastBarged) {
          this.aside(() => view.note(`turn ${ev.turnId} was interrupted after its reply: ${codePoints(kind.value.heard)} characters heard`));
        }
        return;
      case "failed":
        if (turn !== undefined) this.active = undefined;
        if (this.live) this.failures++;
        this.aside(() => view.error(`turn failed: ${kind.value.code}: ${kind.value.message}`));
        return;
      case "rejected":
        if (turn !== undefined && !turn.accepted) {
          this.active = undefined;
          if (this.live) this.failures++;
        }
        this.aside(() => view.error(`${kind.value.code}: ${kind.value.message}`));
        return;
      case "takenOver":
        // The stream ends with ABORTED next, which says what happened.
        this.ending = true;
        this.queue.length = 0;
        view.endLine();
        return;
      default:
        return;
    }
  }

  /** pump sends the next waiting line once no turn runs, or shows the prompt. */
  private pump(): void {
    if (!this.live) return;
    while (this.active === undefined && !this.ending) {
      const next = this.queue.shift();
      if (next === undefined) break;
      if ("end" in next) {
        this.close();
        break;
      }
      const line = next.line.trim();
      if (line === "/quit" || line === "/exit") {
        this.close();
        break;
      }
      if (line === "/help") {
        for (const l of helpLines) this.io.view.note(l);
        continue;
      }
      this.start(next.line);
    }
    if (this.inputPaused && this.queue.length < maxQueuedLines / 2) {
      this.inputPaused = false;
      this.io.resumeInput?.();
    }
    const idle = (this.active === undefined || this.active.barged) && this.queue.length === 0;
    if (idle && !this.ending && !this.promptShown && this.io.prompt !== undefined) {
      this.io.view.endLine();
      this.io.prompt.show();
      this.promptShown = true;
      this.io.view.cursorMoved(false);
    }
  }

  private start(text: string): void {
    const id = this.io.newTurnId();
    this.active = { id, printed: 0, barged: false, accepted: false };
    // Typed lines were echoed by the line editor; lines from a pipe were not.
    if (this.io.prompt === undefined) this.io.view.user(text);
    this.io.send({ kind: { case: "turn", value: { turnId: id, input: { text } } } });
  }

  /** aside prints something while the prompt may be on screen, taking it off first. */
  private aside(print: () => void): void {
    if (this.promptShown) {
      this.io.prompt?.hide();
      this.promptShown = false;
      this.io.view.cursorMoved(true);
    }
    print();
  }

  private close(): void {
    this.ending = true;
    this.queue.length = 0;
    if (this.promptShown) {
      // Leave the prompt line as it is, and the shell's prompt below it.
      this.promptShown = false;
      this.io.view.endLine();
    }
    this.io.close();
  }
}

/**
 * asHeard cuts the reply of an interrupted turn to what the user heard, so
 * an earlier conversation shows what the user heard rather than all the
 * agent streamed.
 */
function asHeard(events: SessionEvent[]): SessionEvent[] {
  const interrupted = events.find((e) => e.kind.case === "interrupted");
  if (interrupted?.kind.case !== "interrupted") return events;
  let left = codePoints(interrupted.kind.value.heard);
  return events.map((ev) => {
    if (ev.kind.case !== "output") return ev;
    const text = prefixCodePoints(ev.kind.value.text, left);
    left -= codePoints(text);
    return { ...ev, kind: { case: "output", value: { ...ev.kind.value, text } } };
  });
}
