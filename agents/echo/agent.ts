import { Action, type AgentOptions } from "../../src/sdk/index.js";

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
