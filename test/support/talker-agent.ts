import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TurnStart } from "../../src/gen/switchboard/v1/agent_pb.js";
import { Action, type RunningAgent, serveAgent, type Turn } from "../../src/sdk/index.js";

/**
 * Latch is a promise a test opens by hand.
 */
export class Latch<T = void> {
  readonly promise: Promise<T>;
  open!: (value: T) => void;
  opened = false;
  constructor() {
    this.promise = new Promise((resolve) => {
      this.open = (v: T) => {
        this.opened = true;
        resolve(v);
      };
    });
  }
}

/**
 * talkerWords are the words of the Talker's `words:ID` reply.
 */
export const talkerWords = ["alpha", "bravo", "charlie", "delta", "echo"];

/**
 * Talker is an in-process agent (served over a real socket by the SDK)
 * whose turns a test steers by what the user says:
 *
 * - `gate:ID` streams "part one. ", waits for `gate(ID).open()`, then
 *   streams "part two." — the turn is provably still running in between;
 * - `story:ID` streams a long reply in words, then waits for the gate;
 * - `words:ID` streams "alpha bravo charlie delta echo" a word at a time,
 *   each word after the first only once `gate("ID:N").open()` (N = 1..4):
 *   a watcher can be seen showing every intermediate reply;
 * - `long:N` streams N characters in chunks of 64;
 * - `longgate:N:ID` streams N characters, then waits for the gate ID;
 * - `fail` fails the turn (ACTION_FAIL);
 * - a turn with streamed input replies with everything it received;
 * - anything else: "You said: TEXT".
 *
 * It records every TurnStart and which turns saw a cancel.
 */
export class Talker {
  readonly starts: TurnStart[] = [];
  readonly inputs = new Map<string, string[]>();
  private readonly gates = new Map<string, Latch>();
  private readonly cancels = new Map<string, Latch<unknown>>();
  agent!: RunningAgent;

  gate(id: string): Latch {
    let gate = this.gates.get(id);
    if (gate === undefined) {
      gate = new Latch();
      this.gates.set(id, gate);
    }
    return gate;
  }

  /** cancelled resolves with the abort reason once the turn saw its cancel. */
  cancelled(turnId: string): Promise<unknown> {
    let latch = this.cancels.get(turnId);
    if (latch === undefined) {
      latch = new Latch<unknown>();
      this.cancels.set(turnId, latch);
    }
    return latch.promise;
  }

  async start(): Promise<RunningAgent> {
    this.agent = await serveAgent({
      card: { name: "talker", version: "1.0.0", intents: ["chat"] },
      handler: (turn) => this.handle(turn),
    });
    return this.agent;
  }

  private async *handle(turn: Turn) {
    this.starts.push(turn.start);
    const turnId = turn.start.turnId;
    const onCancel = () => {
      this.cancelled(turnId); // make sure the latch exists
      this.cancels.get(turnId)?.open(turn.signal.reason);
    };
    turn.signal.addEventListener("abort", onCancel, { once: true });
    const waitGate = async (id: string) => {
      await Promise.race([
        this.gate(id).promise,
        new Promise((_, reject) => turn.signal.addEventListener("abort", () => reject(turn.signal.reason), { once: true })),
      ]);
    };
    const text = turn.text;
    if (turn.start.inputStreaming) {
      const got: string[] = [];
      this.inputs.set(turnId, got);
      for await (const delta of turn.input) {
        got.push(delta.text);
        if (delta.final) break;
      }
      yield `heard: ${turn.text}${got.join("")}`;
      return {};
    }
    if (text === "fail") return { next: { action: Action.FAIL, reason: "asked to fail" } };
    if (text.startsWith("gate:")) {
      yield "part one. ";
      await waitGate(text.slice(5));
      yield "part two.";
      return {};
    }
    if (text.startsWith("words:")) {
      for (const [i, word] of talkerWords.entries()) {
        if (i > 0) await waitGate(`${text.slice(6)}:${i}`);
        yield i === 0 ? word : ` ${word}`;
      }
      return {};
    }
    if (text.startsWith("story:")) {
      for (const word of "Once upon a time there was a very long story that nobody heard to the end.".split(" ")) {
        yield `${word} `;
      }
      await waitGate(text.slice(6));
      yield "The end.";
      return {};
    }
    if (text.startsWith("longgate:")) {
      const [, n, id] = text.split(":");
      for (let i = 0; i < Number(n); i += 64) yield String.fromCharCode(65 + ((i / 64) % 26)).repeat(Math.min(64, Number(n) - i));
      await waitGate(id ?? "");
      yield " done";
      return {};
    }
    if (text.startsWith("long:")) {
      const n = Number(text.slice(5));
      for (let i = 0; i < n; i += 64) yield String.fromCharCode(97 + ((i / 64) % 26)).repeat(Math.min(64, n - i));
      return {};
    }
    yield "You said: ";
    yield text;
    return {};
  }
}

/**
 * talkFlowDir writes the flow the Converse tests use — a greeting stage,
 * then a chat stage, both served by the talker (the listener for the
 * intent "voice") — and returns its directory.
 */
export function talkFlowDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "switchboard-flows-"));
  writeFileSync(
    join(dir, "talk.json"),
    JSON.stringify({
      id: "talk",
      version: "1",
      stages: [
        { name: "greeting", agent: "talker", transitions: [{ to: "chat" }] },
        // Turns with the intent "voice" go to the listener, which takes audio.
        { name: "chat", agent: "talker", intentAgents: { voice: "listener" }, transitions: [{ to: "chat" }] },
      ],
    }),
  );
  return dir;
}

/**
 * startListener serves an agent whose card accepts audio: it replies with
 * how many bytes of audio its streamed input carried.
 */
export function startListener(): Promise<RunningAgent> {
  return serveAgent({
    card: { name: "listener", acceptsAudio: true },
    async handler(turn) {
      let bytes = 0;
      for await (const delta of turn.input) {
        bytes += delta.audio.byteLength;
        if (delta.final) break;
      }
      return `got ${bytes} bytes of audio`;
    },
  });
}
