import { setTimeout as sleep } from "node:timers/promises";
import { Action, type AgentOptions, type Turn } from "../../src/sdk/index.js";

/**
 * echoAgent is the sample agent: it greets the caller in the greeting stage
 * and afterwards repeats what it hears, streaming its reply word by word.
 * It counts turns in the session state, and ends the conversation when the
 * caller says "bye".
 */
export const echoAgent: Pick<AgentOptions, "card" | "handler"> = {
  card: {
    name: "echo",
    version: "1.0.0",
    description: "Greets the caller, then repeats what it hears.",
    intents: ["greeting", "chat"],
  },
  async *handler(turn) {
    if (turn.start.metadata["switchboard.conformance"] === "slow") return yield* slowTurn(turn);
    const said = turn.text.trim();
    const heard = Number(turn.start.state?.["turns"] ?? 0) + 1;
    const reply =
      turn.start.stage === "greeting"
        ? `Hello! I am the echo agent. You said: ${said}`
        : `You said: ${said}`;
    const words = reply.split(" ");
    for (const [i, word] of words.entries()) {
      yield i === 0 ? word : ` ${word}`;
    }
    const bye = /\bbye\b/i.test(said);
    return {
      statePatch: { turns: heard, last_heard: said },
      next: { action: bye ? Action.END : Action.ADVANCE },
    };
  },
};

/**
 * slowTurn streams a tick every 50ms for up to 30s, for the conformance
 * kit's cancel and deadline checks (TurnStart.metadata
 * "switchboard.conformance": "slow"); it stops when the turn is aborted.
 */
async function* slowTurn(turn: Turn): AsyncGenerator<string, { next: { action: Action } }, void> {
  for (let i = 1; i <= 600 && !turn.signal.aborted; i++) {
    await sleep(50, undefined, { signal: turn.signal }).catch(() => undefined);
    if (turn.signal.aborted) break;
    yield `tick ${i}. `;
  }
  return { next: { action: Action.ADVANCE } };
}
