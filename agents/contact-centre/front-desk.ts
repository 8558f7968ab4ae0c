import { ConnectError, Code } from "@connectrpc/connect";
import { Action, type AgentOptions } from "../../src/sdk/index.js";
import { classify, menu } from "./classify.js";

type SampleAgent = Pick<AgentOptions, "card" | "handler">;

/**
 * securityCode is the code every demo caller verifies with.
 */
export const securityCode = "1234";

/**
 * greetingAgent welcomes the caller and asks for the security code.
 */
export const greetingAgent: SampleAgent = {
  card: { name: "greeting", version: "1.0.0", description: "Welcomes the caller.", intents: [] },
  async handler() {
    return {
      text: "Welcome to Acme. For your security, please tell me your 4-digit security code.",
      next: { action: Action.ADVANCE },
    };
  },
};

/**
 * authAgent checks the caller's security code (always 1234 in the demo).
 * A correct code verifies the caller and runs the next stage at once; a
 * wrong one counts the attempt and waits for another. Its compensation,
 * intent `revoke_token`, signs the caller out again.
 */
export const authAgent: SampleAgent = {
  card: { name: "auth", version: "1.0.0", description: "Verifies the caller's security code.", intents: ["verify_identity", "revoke_token"] },
  async handler(turn) {
    const state = turn.start.state ?? {};
    if (turn.start.intent === "revoke_token") {
      return { text: "For your security I have signed you out.", statePatch: { verified: false, token: null } };
    }
    const code = /\b(\d{4})\b/.exec(turn.text)?.[1];
    if (code === securityCode) {
      return {
        text: "Thank you, you are verified.",
        statePatch: { verified: true, token: `T-${turn.start.sessionId}` },
        next: { action: Action.CONTINUE },
      };
    }
    const attempts = Number(state["auth_attempts"] ?? 0) + 1;
    return {
      text:
        attempts >= 3
          ? "That code does not match either. I am passing you to a colleague."
          : "That code does not match. Please try again.",
      statePatch: { verified: false, auth_attempts: attempts },
      next: { action: Action.ADVANCE },
    };
  },
};

/**
 * triageAgent recognises what the caller wants and hands the conversation
 * to the domain agent for it, in the same turn.
 */
export const triageAgent: SampleAgent = {
  card: { name: "triage", version: "1.0.0", description: "Recognises the caller's request.", intents: [] },
  async handler(turn) {
    const domain = classify(turn.text);
    if (domain === "") return { text: `Sorry, I did not catch that. ${menu}`, next: { action: Action.ADVANCE } };
    return { intent: domain, next: { action: Action.HANDOFF, targetAgent: domain } };
  },
};

/**
 * fallbackAgent serves intents no domain agent handles: it hands requests
 * it recognises to their domain agent and otherwise lists what it can do.
 */
export const fallbackAgent: SampleAgent = {
  card: { name: "fallback", version: "1.0.0", description: "Serves requests no other agent handles.", intents: [] },
  async handler(turn) {
    const domain = classify(turn.text);
    if (domain !== "" && turn.start.stage === "intent_capture") {
      return { intent: domain, next: { action: Action.HANDOFF, targetAgent: domain } };
    }
    const what = turn.start.intent ? ` with "${turn.start.intent}"` : "";
    return { text: `I am afraid I cannot help${what} on this line. ${menu}`, next: { action: Action.ADVANCE } };
  },
};

/**
 * approvalAgent records a supervisor's decision on a refund waiting for
 * approval: `approve` runs the fulfilment at once, `reject` moves on.
 */
export const approvalAgent: SampleAgent = {
  card: { name: "approval", version: "1.0.0", description: "Records a supervisor's approval.", intents: ["approve", "reject"] },
  async handler(turn) {
    const actor = turn.start.input?.metadata["actor"] || "a supervisor";
    switch (turn.start.intent) {
      case "approve":
        return {
          text: `The refund was approved by ${actor}.`,
          statePatch: { approved: true, approved_by: actor },
          next: { action: Action.CONTINUE },
        };
      case "reject":
        return {
          text: `The refund was declined by ${actor}.`,
          statePatch: { approved: false, approved_by: actor },
          next: { action: Action.ADVANCE },
        };
      default:
        return { text: "Your refund is waiting for a supervisor's approval.", next: { action: Action.WAIT, reason: "supervisor approval" } };
    }
  },
};

/**
 * humanDeskAgent stands for the colleague who takes a call from the human
 * queue: it relays what they say and moves on to closing.
 */
export const humanDeskAgent: SampleAgent = {
  card: { name: "human-desk", version: "1.0.0", description: "Relays a human colleague.", intents: [] },
  async handler(turn) {
    const actor = turn.start.input?.metadata["actor"] || "a colleague";
    return {
      text: `You are now talking to ${actor}: ${turn.text}`,
      statePatch: { handled_by: actor },
      next: { action: Action.ADVANCE },
    };
  },
};

/**
 * closingAgent ends the call.
 */
export const closingAgent: SampleAgent = {
  card: { name: "closing", version: "1.0.0", description: "Ends the call.", intents: [] },
  async handler(turn) {
    const state = turn.start.state ?? {};
    const sorry = state["booking_status"] === "released" ? "I am sorry we could not complete your booking. " : "";
    return { text: `${sorry}Thank you for calling Acme. Goodbye!`, next: { action: Action.END } };
  },
};

/**
 * unavailable is the error a sample back-end gives when it is "down".
 */
export function unavailable(what: string): ConnectError {
  return new ConnectError(`${what} is unreachable`, Code.Unavailable);
}
