import { Code, ConnectError } from "@connectrpc/connect";
import type { TurnStart } from "../../src/gen/switchboard/v1/agent_pb.js";
import { type AgentResultInit, type RegistrationOptions, type RunningAgent, serveAgent, type Turn } from "../../src/sdk/index.js";

/**
 * Behaviour is what a test agent does with a turn; tests switch it at will.
 */
export type Behaviour = (turn: Turn, agent: TestAgent) => AsyncGenerator<string, AgentResultInit | string | void, void> | Promise<AgentResultInit | string>;

/**
 * TestAgent is a real agent server (the SDK on a real socket) whose
 * behaviour a test controls, counting what reaches it.
 */
export class TestAgent {
  /** Turns that reached the agent. */
  turns = 0;
  /** Turns running now. */
  active = 0;
  /** The most turns that ran at once. */
  maxActive = 0;
  /** Turns whose stream the orchestrator cancelled. */
  cancelled = 0;
  /** The start message of every turn, in order. */
  readonly starts: TurnStart[] = [];
  private waiters: Array<{ match: () => boolean; resolve: () => void }> = [];
  private running: RunningAgent | undefined;

  private constructor(readonly name: string, public behaviour: Behaviour) {}

  /**
   * start serves an agent named `name` on a free port.
   */
  static async start(name: string, behaviour: Behaviour, register?: RegistrationOptions): Promise<TestAgent> {
    const agent = new TestAgent(name, behaviour);
    agent.running = await serveAgent({
      card: { name, version: "test" },
      handler: (turn) => agent.handle(turn),
      ...(register !== undefined ? { register } : {}),
    });
    return agent;
  }

  get url(): string {
    return this.server.url;
  }

  get server(): RunningAgent {
    if (this.running === undefined) throw new Error("agent not started");
    return this.running;
  }

  /**
   * until resolves once `match` holds (checked after every change), or
   * rejects after `timeoutMs` as a safety net.
   */
  until(what: string, match: () => boolean, timeoutMs = 15_000): Promise<void> {
    if (match()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`agent ${this.name}: ${what} did not happen within ${timeoutMs}ms`)), timeoutMs);
      this.waiters.push({ match, resolve: () => (clearTimeout(timer), resolve()) });
    });
  }

  close(): Promise<void> {
    return this.running?.close() ?? Promise.resolve();
  }

  private changed(): void {
    const ready = this.waiters.filter((w) => w.match());
    this.waiters = this.waiters.filter((w) => !ready.includes(w));
    for (const w of ready) w.resolve();
  }

  private async *handle(turn: Turn): AsyncGenerator<string, AgentResultInit | string | void, void> {
    this.turns++;
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    this.starts.push(turn.start);
    const onAbort = () => {
      this.cancelled++;
      this.changed();
    };
    turn.signal.addEventListener("abort", onAbort, { once: true });
    this.changed();
    try {
      const out = this.behaviour(turn, this);
      if (Symbol.asyncIterator in out) return yield* out;
      return await out;
    } finally {
      this.active--;
      this.changed();
    }
  }
}

/** answer replies at once, streaming "NAME: TEXT" in two deltas. */
export const answer: Behaviour = async function* (turn, agent) {
  yield `${agent.name}: `;
  yield turn.text;
};

/** hang never answers; it ends only when the orchestrator cancels the stream. */
export const hang: Behaviour = (turn) =>
  new Promise((_, reject) => {
    const stop = () => reject(new ConnectError("cancelled", Code.Canceled));
    if (turn.signal.aborted) stop();
    turn.signal.addEventListener("abort", stop, { once: true });
  });

/** failWith answers every turn with an error status. */
export const failWith =
  (code: Code, message: string): Behaviour =>
  async () => {
    throw new ConnectError(message, code);
  };

/**
 * Gate holds turns until released: `behaviour` waits for `open()` (or the
 * turn's cancellation) and then answers.
 */
export class Gate {
  private release: () => void = () => {};
  private opened: Promise<void> = new Promise((resolve) => (this.release = resolve));

  readonly behaviour: Behaviour = async (turn) => {
    await Promise.race([
      this.opened,
      new Promise<void>((_, reject) => turn.signal.addEventListener("abort", () => reject(new ConnectError("cancelled", Code.Canceled)), { once: true })),
    ]);
    return `done: ${turn.text}`;
  };

  /** open lets every held and future turn through. */
  open(): void {
    this.release();
  }

  /** reset holds future turns again. */
  reset(): void {
    this.opened = new Promise((resolve) => (this.release = resolve));
  }
}
