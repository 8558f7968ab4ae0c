import { create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { isScalar, type Node } from "yaml";
import { Action, type AgentResult, AgentResultSchema, NextActionSchema } from "../gen/switchboard/v1/turn_pb.js";
import { codeName } from "../core/errors.js";
import type { YamlReader } from "./yaml-reader.js";

/**
 * StubMatch narrows which calls a scripted reply answers; each field is
 * checked only when set.
 */
export interface StubMatch {
  /** The case's turn (1-based). */
  turn?: number;
  /** The stage the agent is called for. */
  stage?: string;
  /** The intent the agent is called with (e.g. a compensation's `undo`). */
  intent?: string;
}

/**
 * StubReply is one scripted reply of a stubbed agent: a result, or an
 * error the call fails with.
 */
export interface StubReply {
  readonly line: number;
  /** Answers every matching call, not only one (an agent stubbed with one reply rather than a list). */
  readonly always?: boolean;
  readonly match: StubMatch;
  readonly result?: AgentResult;
  readonly error?: { code: Code; message: string };
}

/**
 * actionNames are the next actions a scripted reply may ask for, by the
 * lower-case names flow conditions use.
 */
export const actionNames: Record<string, Action> = {
  advance: Action.ADVANCE,
  continue: Action.CONTINUE,
  wait: Action.WAIT,
  goto: Action.GOTO,
  handoff: Action.HANDOFF,
  end: Action.END,
  fail: Action.FAIL,
};

const replyKeys = ["text", "next", "state", "intent", "metadata", "error", "match"];
const nextKeys = ["action", "target_stage", "target_agent", "reason"];
const codes = new Map(
  Object.values(Code)
    .filter((c): c is Code => typeof c === "number")
    .map((c) => [codeName(c), c]),
);

/**
 * readStubReply reads one scripted reply:
 *
 *     - text: Thank you, you are verified.
 *       state: { verified: true }
 *       next: continue                      # or { action: handoff, target_agent: refund }
 *       intent: refund
 *       match: { turn: 2, stage: authentication }
 *     - error: unavailable                  # or { code: unavailable, message: ... }
 */
export function readStubReply(y: YamlReader, node: Node | null, what: string): StubReply | undefined {
  const f = y.fields(node, what, replyKeys);
  if (f === undefined) return undefined;
  const match: StubMatch = {};
  const m = f.has("match") ? y.fields(f.get("match")?.value ?? null, "match", ["turn", "stage", "intent"]) : undefined;
  if (m?.has("turn")) {
    const turn = y.number(m.get("turn")?.value, "match.turn");
    if (turn !== undefined) match.turn = turn;
  }
  if (m?.has("stage")) match.stage = y.text(m.get("stage")?.value, "match.stage") ?? "";
  if (m?.has("intent")) match.intent = y.text(m.get("intent")?.value, "match.intent") ?? "";
  const line = y.line(node);
  if (f.has("error")) {
    const e = f.get("error")?.value ?? null;
    const ef = e !== null && isScalar(e) ? undefined : y.fields(e, "error", ["code", "message"]);
    const name = (ef === undefined ? y.text(e, "error") : y.text(ef.get("code")?.value, "error.code")) ?? "";
    const code = codes.get(name);
    if (code === undefined) {
      y.report(e, `error ${JSON.stringify(name)} is not a gRPC code name (${[...codes.keys()].join(", ")})`);
      return undefined;
    }
    const message = ef?.has("message") ? (y.text(ef.get("message")?.value, "error.message") ?? "") : `a scripted ${name}`;
    for (const key of ["text", "next", "state", "intent", "metadata"]) if (f.has(key)) y.report(f.get(key)?.key, `a reply with an error has no ${key}`);
    return { line, match, error: { code, message } };
  }
  const result = create(AgentResultSchema, {});
  if (f.has("text")) result.text = y.text(f.get("text")?.value, "text") ?? "";
  if (f.has("intent")) result.intent = y.text(f.get("intent")?.value, "intent") ?? "";
  if (f.has("state")) {
    const patch = y.object(f.get("state")?.value, "state");
    if (patch !== undefined) result.statePatch = patch;
  }
  if (f.has("metadata")) result.metadata = y.strings(f.get("metadata")?.value, "metadata") ?? {};
  const next = f.get("next")?.value;
  if (next !== undefined) {
    const nf = next !== null && isScalar(next) ? undefined : y.fields(next, "next", nextKeys);
    const name = (nf === undefined ? y.text(next, "next") : y.text(nf.get("action")?.value, "next.action")) ?? "";
    const action = actionNames[name];
    if (action === undefined) {
      y.report(next, `next action ${JSON.stringify(name)} is not one of ${Object.keys(actionNames).join(", ")}`);
    } else {
      result.next = create(NextActionSchema, {
        action,
        targetStage: nf?.has("target_stage") ? (y.text(nf.get("target_stage")?.value, "target_stage") ?? "") : "",
        targetAgent: nf?.has("target_agent") ? (y.text(nf.get("target_agent")?.value, "target_agent") ?? "") : "",
        reason: nf?.has("reason") ? (y.text(nf.get("reason")?.value, "reason") ?? "") : "",
      });
      if (action === Action.GOTO && result.next.targetStage === "") y.report(next, "next goto needs target_stage");
      if (action === Action.HANDOFF && result.next.targetAgent === "") y.report(next, "next handoff needs target_agent");
    }
  }
  return { line, match, result };
}
