import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { SendTurnResponseSchema } from "../gen/switchboard/v1/orchestrator_pb.js";
import { SessionSchema } from "../gen/switchboard/v1/session_pb.js";
import { Role } from "../gen/switchboard/v1/turn_pb.js";
import { event, type EventKind } from "../core/session-events.js";
import { ChatConversation, type ConverseRequestInit, maxReplayTurns } from "./chat-conversation.js";
import { ChatView } from "./chat-view.js";

/** Harness is a conversation with everything it does written down. */
class Harness {
  readonly sent: ConverseRequestInit[] = [];
  closed = false;
  screen = "";
  readonly prompts: string[] = [];
  paused = false;
  readonly conversation: ChatConversation;
  private ids = 0;

  constructor(opts: { terminal?: boolean } = {}) {
    const out = { write: (s: string) => ((this.screen += s), true) } as unknown as NodeJS.WritableStream;
    this.conversation = new ChatConversation("s1", {
      send: (r) => this.sent.push(r),
      close: () => (this.closed = true),
      view: new ChatView(out, false),
      ...(opts.terminal === true
        ? {
            prompt: {
              show: () => {
                this.prompts.push("show");
                this.screen += "you> ";
              },
              hide: () => {
                this.prompts.push("hide");
                this.screen = this.screen.slice(0, this.screen.lastIndexOf("you> "));
              },
            },
          }
        : {}),
      pauseInput: () => (this.paused = true),
      resumeInput: () => (this.paused = false),
      newTurnId: () => `t${++this.ids}`,
    });
  }

  /** turns are the texts of the turns sent so far. */
  turns(): string[] {
    return this.sent.flatMap((r) => (r.kind?.case === "turn" ? [r.kind.value.input?.text ?? ""] : []));
  }

  emit(turnId: string, kind: EventKind, seq = 1n): void {
    this.conversation.event(event({ sessionId: "s1", turnId }, seq, kind));
  }

  open(extra: Parameters<typeof create<typeof SessionSchema>>[1] | undefined = undefined): void {
    this.emit("", { case: "opened", value: { lastSeq: 0n, replayed: 0n, ...(extra ? { session: create(SessionSchema, extra) } : {}) } }, 0n);
  }

  reply(turnId: string, ...chunks: string[]): void {
    this.emit(turnId, { case: "accepted", value: { stage: "chat", agent: "bot" } });
    for (const text of chunks) this.emit(turnId, { case: "output", value: { text, agent: "bot" } });
  }

  complete(turnId: string): void {
    this.emit(turnId, { case: "completed", value: { result: create(SendTurnResponseSchema, { turnId, agent: "bot" }) } });
  }
}

describe("ChatConversation", () => {
  it("sends one line at a time, each once the turn before it is done", () => {
    const h = new Harness();
    h.conversation.submit("first");
    h.conversation.submit("   ");
    h.conversation.submit("second");
    expect(h.turns()).toEqual([]); // not before the stream is open
    h.open();
    expect(h.turns()).toEqual(["first"]);
    h.reply("t1", "Hi ", "there.");
    expect(h.turns()).toEqual(["first"]);
    h.complete("t1");
    expect(h.turns()).toEqual(["first", "second"]);
    h.conversation.finish();
    expect(h.closed).toBe(false); // the end waits for the running turn
    h.reply("t2", "Bye.");
    h.complete("t2");
    expect(h.closed).toBe(true);
    expect(h.screen).toBe("· session s1 (new)\nyou> first\nbot> Hi there.\nyou> second\nbot> Bye.\n");
  });

  it("barges in with the code points printed so far and ignores the rest of that reply", () => {
    const h = new Harness({ terminal: true });
    h.open();
    h.conversation.submit("tell me");
    h.reply("t1", "héllo ", "👋 wor");
    expect(h.conversation.streaming).toBe(true);
    h.conversation.bargeIn("other");
    expect(h.sent.at(-1)).toEqual({ kind: { case: "bargeIn", value: { turnId: "t1", heardChars: 11 } } });
    expect(h.conversation.streaming).toBe(false);
    // Output already on its way is not shown; the prompt is back at once.
    h.emit("t1", { case: "output", value: { text: "ld, and more", agent: "bot" } });
    expect(h.screen).toMatch(/bot> héllo 👋 wor \[interrupted\]\nyou> $/);
    // The next line waits until the server says how the interrupted turn ended.
    h.conversation.submit("next");
    expect(h.turns()).toEqual(["tell me"]);
    h.emit("t1", { case: "interrupted", value: { heard: "héllo 👋 wor" } });
    expect(h.turns()).toEqual(["tell me", "next"]);
    expect(h.screen).not.toContain("more");
  });

  it("leaves the line to the line editor when Enter barged in", () => {
    const h = new Harness({ terminal: true });
    h.open();
    h.conversation.submit("tell me");
    h.reply("t1", "Once");
    h.conversation.bargeIn("enter");
    expect(h.screen.endsWith("bot> Once [interrupted]")).toBe(true);
    h.conversation.submit(""); // the Enter itself
    expect(h.screen.endsWith("bot> Once [interrupted]you> ")).toBe(true);
  });

  it("leave drops waiting lines, interrupts the reply and closes at once", () => {
    const h = new Harness();
    h.open();
    h.conversation.submit("one");
    h.conversation.submit("two");
    h.reply("t1", "abc");
    h.conversation.leave();
    expect(h.sent.at(-1)).toEqual({ kind: { case: "bargeIn", value: { turnId: "t1", heardChars: 3 } } });
    expect(h.closed).toBe(true);
    h.emit("t1", { case: "interrupted", value: { heard: "abc" } });
    expect(h.turns()).toEqual(["one"]);
  });

  it("goes on after failed and refused turns, counting them", () => {
    const h = new Harness();
    h.open();
    h.conversation.submit("a");
    h.conversation.submit("b");
    h.conversation.submit("c");
    h.emit("t1", { case: "rejected", value: { code: "invalid_argument", message: "bad input" } }, 0n);
    h.emit("t2", { case: "accepted", value: { stage: "chat", agent: "bot" } });
    h.emit("t2", { case: "failed", value: { code: "unavailable", message: "agent down" } });
    expect(h.turns()).toEqual(["a", "b", "c"]);
    expect(h.conversation.failures).toBe(2);
    expect(h.screen).toContain("you> a\n! invalid_argument: bad input\nyou> b\n! turn failed: unavailable: agent down\nyou> c\n");
  });

  it("takes the prompt off the screen to print an event that comes while it shows", () => {
    const h = new Harness({ terminal: true });
    h.open();
    expect(h.prompts).toEqual(["show"]);
    h.emit("t9", { case: "transition", value: { from: "a", to: "b" } });
    expect(h.prompts).toEqual(["show", "hide", "show"]);
    expect(h.screen).toBe("· session s1 (new)\n· stage a → b\nyou> ");
  });

  it("pauses input while too many lines wait, and resumes it as they go", () => {
    const h = new Harness();
    h.open();
    for (let i = 0; i < 100; i++) h.conversation.submit(`line ${i}`);
    expect(h.paused).toBe(true);
    for (let i = 1; h.paused; i++) {
      h.reply(`t${i}`, "ok");
      h.complete(`t${i}`);
    }
    expect(h.turns().length).toBeGreaterThan(1);
  });

  it("shows a resumed session's turns with what the user said and heard, and adopts a turn still running", () => {
    const h = new Harness({ terminal: true });
    const ev = (turnId: string, kind: EventKind) => h.emit(turnId, kind);
    ev("a", { case: "accepted", value: { stage: "greeting", agent: "bot" } });
    ev("a", { case: "output", value: { text: "Hello, how can I help?", agent: "bot" } });
    ev("a", { case: "transition", value: { from: "greeting", to: "chat" } });
    ev("a", { case: "completed", value: { result: create(SendTurnResponseSchema, { turnId: "a" }) } });
    ev("b", { case: "accepted", value: { stage: "chat", agent: "bot" } });
    ev("b", { case: "output", value: { text: "Let me tell you ", agent: "bot" } });
    ev("b", { case: "output", value: { text: "a story.", agent: "bot" } });
    ev("b", { case: "interrupted", value: { heard: "Let me tell" } });
    ev("c", { case: "accepted", value: { stage: "chat", agent: "bot" } });
    ev("c", { case: "output", value: { text: "Still ", agent: "bot" } });
    expect(h.screen).toBe("");
    h.open({
      id: "s1",
      flowId: "talk",
      flowVersion: "1",
      stage: "chat",
      version: 3n,
      history: [
        { role: Role.USER, text: "hi", turnId: "a" },
        { role: Role.AGENT, text: "Hello, how can I help?", turnId: "a" },
        { role: Role.USER, text: "a story", turnId: "b" },
        { role: Role.AGENT, text: "Let me tell", turnId: "b", interrupted: true },
      ],
    });
    expect(h.screen).toBe(
      [
        "· session s1: flow talk@1, stage chat, version 3",
        "you> hi",
        "bot> Hello, how can I help?",
        "· stage greeting → chat",
        "you> a story",
        "bot> Let me tell [interrupted]",
        "bot> Still ",
      ].join("\n"),
    );
    // The running turn streams on, and a key interrupts it.
    ev("c", { case: "output", value: { text: "going", agent: "bot" } });
    expect(h.conversation.streaming).toBe(true);
    h.conversation.bargeIn("other");
    expect(h.sent.at(-1)).toEqual({ kind: { case: "bargeIn", value: { turnId: "c", heardChars: 11 } } });
  });

  it("shows at most the last turns of a long resumed session", () => {
    const h = new Harness();
    const turns = maxReplayTurns + 5;
    for (let i = 0; i < turns; i++) {
      h.reply(`r${i}`, `reply ${i}`);
      h.complete(`r${i}`);
    }
    h.open();
    expect(h.screen).toContain("· 5 earlier turns not shown\n");
    expect(h.screen).not.toContain("reply 4\n");
    expect(h.screen).toContain("reply 5\n");
    expect(h.screen).toContain(`reply ${turns - 1}\n`);
  });
});

