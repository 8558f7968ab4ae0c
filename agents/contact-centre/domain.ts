import type { JsonObject } from "@bufbuild/protobuf";
import { Action, type AgentOptions, type AgentResultInit, type Turn } from "../../src/sdk/index.js";
import { amountOf, type Domain, money } from "./classify.js";
import { unavailable } from "./front-desk.js";

type SampleAgent = Pick<AgentOptions, "card" | "handler">;

interface Behaviour {
  description: string;
  /** The `lookup` stage: what this back-end knows about the caller. */
  lookup?: (turn: Turn) => JsonObject;
  /** The `intent_capture` stage: take the request's details. */
  capture: (turn: Turn, state: JsonObject) => AgentResultInit;
  /** The `fulfilment` stage: carry the request out. */
  fulfil: (turn: Turn, state: JsonObject) => AgentResultInit;
  /** The compensation (intent `undo`): take back what `capture` did. */
  undo?: (turn: Turn, state: JsonObject) => AgentResultInit;
}

/**
 * domainAgent builds a rule-based domain agent that serves the lookup,
 * intent capture and fulfilment stages of the contact-centre flow, and its
 * compensation. Accounts whose id contains `DOMAIN-down` find its back-end
 * unreachable (how tests make one branch of the lookup fail).
 */
function domainAgent(domain: Domain, b: Behaviour): SampleAgent {
  return {
    card: { name: domain, version: "1.0.0", description: b.description, intents: [domain] },
    async handler(turn) {
      const state = (turn.start.state ?? {}) as JsonObject;
      if (turn.start.accountId.includes(`${domain}-down`)) throw unavailable(`the ${domain} system`);
      if (turn.start.intent === "undo") return b.undo?.(turn, state) ?? { text: "" };
      switch (turn.start.stage) {
        case "lookup":
          return { statePatch: b.lookup?.(turn) ?? {} };
        case "intent_capture":
          return { intent: domain, ...b.capture(turn, state) };
        default:
          return b.fulfil(turn, state);
      }
    },
  };
}

/**
 * refundAgent takes a refund's amount and order, then issues it. Refunds
 * above 100 go to a supervisor first (the flow decides that, not the agent).
 */
export const refundAgent = domainAgent("refund", {
  description: "Refunds orders.",
  capture(turn) {
    const amount = amountOf(turn.text);
    if (amount === undefined) {
      return { text: "How much should I refund, and for which order?", next: { action: Action.WAIT, reason: "refund details" } };
    }
    const order = /\border\s+([A-Z0-9-]+)/i.exec(turn.text)?.[1] ?? "on file";
    const review = amount > 100 ? " Refunds above 100.00 need a supervisor's approval; I have asked one to review it." : " Shall I go ahead?";
    return {
      text: `I can refund ${money(amount)} for order ${order}.${review}`,
      statePatch: { refund_amount: amount, refund_order: order },
      next: { action: Action.ADVANCE },
    };
  },
  fulfil(turn, state) {
    const id = `RF-${turn.start.sessionId}`;
    return {
      text: `Your refund of ${money(Number(state["refund_amount"]))} has been issued, reference ${id}.`,
      statePatch: { refund_id: id },
      next: { action: Action.ADVANCE },
    };
  },
});

/**
 * billingAgent reads the caller's bill and sends a copy.
 */
export const billingAgent = domainAgent("billing", {
  description: "Answers questions about bills.",
  lookup: () => ({ next_invoice: "2025-07-01", amount_due: 42.5 }),
  capture: () => ({ text: "Your next invoice of 42.50 is due on 1 July. Shall I email you a copy?", next: { action: Action.ADVANCE } }),
  fulfil: () => ({ text: "I have emailed you a copy of your invoice.", next: { action: Action.ADVANCE } }),
});

/**
 * bookingAgent holds a slot, then charges the card on file and waits for the
 * payment system's `payment.succeeded` or `payment.failed` event. A failed
 * payment fails the stage, which runs the saga's compensations; its own,
 * intent `undo`, releases the held slot.
 */
export const bookingAgent = domainAgent("booking", {
  description: "Books appointments.",
  capture: (turn) => ({
    text: "I have held Tuesday 10:00 for you. Shall I confirm it and charge the card on file?",
    statePatch: { booking_hold: `H-${turn.start.sessionId}`, booking_status: "held" },
    next: { action: Action.ADVANCE },
  }),
  fulfil(turn) {
    switch (turn.start.intent) {
      case "payment_succeeded":
        return {
          text: "Your booking for Tuesday 10:00 is confirmed.",
          statePatch: { booking_status: "confirmed" },
          next: { action: Action.ADVANCE },
        };
      case "payment_failed": {
        const reason = String(turn.start.input?.event?.data?.["reason"] ?? "declined");
        return { next: { action: Action.FAIL, reason: `payment failed: ${reason}` } };
      }
      default:
        return {
          text: "I am charging the card on file; this takes a moment.",
          statePatch: { booking_status: "paying" },
          next: { action: Action.WAIT, reason: "payment confirmation" },
        };
    }
  },
  undo: (_turn, state) => ({
    text: state["booking_hold"] ? "I have released the slot I was holding for you." : "",
    statePatch: { booking_hold: null, booking_status: "released" },
  }),
});

/**
 * complaintAgent notes a complaint and files it.
 */
export const complaintAgent = domainAgent("complaint", {
  description: "Takes complaints.",
  capture: (turn) => ({
    text: "I am sorry to hear that. I have noted your complaint; shall I file it?",
    statePatch: { complaint: turn.text.slice(0, 500) },
    next: { action: Action.ADVANCE },
  }),
  fulfil: (turn) => ({ text: `Your complaint is filed as C-${turn.start.sessionId}.`, next: { action: Action.ADVANCE } }),
});

/**
 * accountAgent reads and changes the caller's plan.
 */
export const accountAgent = domainAgent("account", {
  description: "Manages the caller's account.",
  lookup: (turn) => ({ holder: turn.start.accountId, plan: "Gold" }),
  capture: () => ({ text: "You are on the Gold plan. Would you like to change it?", next: { action: Action.ADVANCE } }),
  fulfil: () => ({ text: "Done: your plan change is booked for next month.", next: { action: Action.ADVANCE } }),
});

/**
 * balanceAgent tells the caller their balance.
 */
export const balanceAgent = domainAgent("balance", {
  description: "Tells the caller their balance.",
  lookup: () => ({ amount: 1250, currency: "EUR" }),
  capture: () => ({ text: "Your balance is 1250.00 EUR. Shall I text it to you?", next: { action: Action.ADVANCE } }),
  fulfil: () => ({ text: "I have sent your balance by text message.", next: { action: Action.ADVANCE } }),
});
