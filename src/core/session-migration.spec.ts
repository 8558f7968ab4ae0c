import { clone, create, type MessageInitShape } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { type Session, SessionSchema, SessionStatus, StepKind } from "../gen/switchboard/v1/session_pb.js";
import { FlowBuilder } from "../flows/flow-builder.js";
import { compileCelValue } from "./cel.js";
import { validateFlow } from "./flow.js";
import { mapState, migrateVersion } from "./session-migration.js";

const facts = { now: new Date("2026-01-02T03:04:05Z"), ttlMs: 60_000 };

/** Version 2 of a small support flow: "ask" became "question", a refund limit holds. */
function version2(configure: (f: FlowBuilder) => void = () => {}) {
  const f = new FlowBuilder("support", "2");
  f.stateKeys("verified", "amount", "order_ref", "channel", "priority");
  f.invariant("refund_limit", "!has(state.amount) || state.amount <= 500.0", "refunds above 500 go to claims");
  f.stage("greeting").agent("bot").to("question");
  f.stage("question")
    .agent("bot")
    .precondition("verified_caller", "has(state.verified) && state.verified", "only a verified caller asks")
    .precondition("supervisor", "'refunds.approve' in permissions")
    .to("closing");
  f.stage("closing").agent("bot").terminal();
  configure(f);
  return f.build();
}

function session(overrides: MessageInitShape<typeof SessionSchema> = {}): Session {
  return create(SessionSchema, {
    id: "s-1",
    accountId: "web-42",
    flowId: "support",
    flowVersion: "1",
    stage: "ask",
    previousStage: "greeting",
    status: SessionStatus.ACTIVE,
    version: 4n,
    stageVisits: { greeting: 1, ask: 2 },
    state: { verified: true, amount: 120, order: "A-17", scratch: "x" },
    ...overrides,
  });
}

const standard = (f: FlowBuilder) =>
  f.migration("1", {
    stages: { ask: "question" },
    rename: { order: "order_ref" },
    remove: ["scratch"],
    defaults: { priority: "normal", verified: false },
    set: { channel: "session.account_id.startsWith('web-') ? 'web' : 'phone'" },
  });

describe("migrateVersion", () => {
  it("lands the session at the mapped stage with the mapped state, in a new version on the target flow version", () => {
    const before = session();
    const kept = clone(SessionSchema, before);
    const moved = migrateVersion(before, version2(standard), facts);
    expect(before).toEqual(kept);
    expect(moved.fromVersion).toBe("1");
    expect(moved.fromStage).toBe("ask");
    expect(moved.session.version).toBe(5n);
    expect(moved.session.flowVersion).toBe("2");
    expect(moved.session.stage).toBe("question");
    expect(moved.session.previousStage).toBe("greeting");
    expect(moved.session.stageVisits).toEqual({ greeting: 1, question: 2 });
    // The rename moved "order", remove dropped "scratch", a default filled
    // only the missing key ("verified" was set), and set read the session.
    expect(moved.session.state).toEqual({ verified: true, amount: 120, order_ref: "A-17", priority: "normal", channel: "web" });
    expect(moved.step.kind).toBe(StepKind.MIGRATION);
    expect(moved.step.version).toBe(5n);
    expect(moved.step.stage).toBe("ask");
    expect(moved.step.nextStage).toBe("question");
    expect(moved.step.details).toEqual({
      migrated_from: "1",
      migrated_to: "2",
      from_stage: "ask",
      to_stage: "question",
      state_renamed: "order→order_ref",
      state_removed: "scratch",
      state_defaulted: "priority",
      state_set: "channel",
    });
  });

  it("keeps a stage the map does not name when the target has it, and drops visits and a previous stage it does not have", () => {
    const moved = migrateVersion(session({ stage: "greeting", previousStage: "gone", stageVisits: { greeting: 1, gone: 3 } }), version2(standard), facts);
    expect(moved.session.stage).toBe("greeting");
    expect(moved.session.previousStage).toBe("");
    expect(moved.session.stageVisits).toEqual({ greeting: 1 });
  });

  it("refuses a stage the target does not have, naming it", () => {
    expect(() => migrateVersion(session({ stage: "billing" }), version2(standard), facts)).toThrow(
      'session s-1 cannot move to support@2: stage "billing" is not a stage of support@2 and migrations[0] (from "1").stages does not map it',
    );
  });

  it("refuses a version that declares no migration from the session's version", () => {
    expect(() => migrateVersion(session({ flowVersion: "0" }), version2(standard), facts)).toThrow(
      "support@2 declares no migration from version 0 (it migrates from 1); add one under migrations: in its flow file",
    );
    expect(() => migrateVersion(session(), version2(), facts)).toThrow("declares no migration from version 1 (it declares none)");
  });

  it("refuses a state that breaks an invariant or the stage's preconditions, naming the check", () => {
    expect(() => migrateVersion(session({ state: { verified: true, amount: 900 } }), version2(standard), facts)).toThrow(
      'session s-1 cannot move to support@2: invariant "refund_limit" of flow support@2 failed: refunds above 500 go to claims',
    );
    expect(() => migrateVersion(session({ state: { verified: false } }), version2(standard), facts)).toThrow(
      'precondition "verified_caller" of stage "question" failed: only a verified caller asks',
    );
  });

  it("leaves checks that read the turn (permissions, input) to the next turn", () => {
    // "supervisor" reads permissions, which a migration has none of.
    expect(migrateVersion(session(), version2(standard), facts).session.stage).toBe("question");
  });

  it("refuses an ended session, the version it is on, and another flow", () => {
    expect(() => migrateVersion(session({ status: SessionStatus.COMPLETED }), version2(standard), facts)).toThrow("it has ended (completed)");
    expect(() => migrateVersion(session({ flowVersion: "2" }), version2(standard), facts)).toThrow("it is on that version already");
    expect(() => migrateVersion(session({ flowId: "billing" }), version2(standard), facts)).toThrow("it follows flow billing");
  });

  it("refuses a set expression without a value", () => {
    const flow = version2((f) => f.migration("1", { stages: { ask: "question" }, set: { channel: "state.priority == 1.0 ? 'a' : 'b'" } }));
    expect(() => migrateVersion(session(), flow, facts)).toThrow(/migrations\[0\] \(from "1"\)\.state\.set\.channel could not be evaluated: field not found: priority \(test for optional keys with has\(state\.KEY\)\)/);
  });
});

describe("mapState", () => {
  it("lets a renamed key win over a key the session had under the new name", () => {
    const flow = version2((f) => f.migration("1", { rename: { order: "order_ref" } }));
    const migration = flow.migrations[0];
    if (migration === undefined) throw new Error("no migration");
    const mapped = mapState(flow, 0, migration, session({ state: { order_ref: "old", order: "A-17" } }));
    expect(mapped.state).toEqual({ order_ref: "A-17" });
    expect(mapped.renamed).toEqual(["order→order_ref"]);
  });
});

describe("a flow's migrations", () => {
  it("are validated with the path of each problem", () => {
    const f = new FlowBuilder("support", "2");
    f.stateKeys("verified");
    f.stage("greeting").agent("bot").terminal();
    f.migration("1", { stages: { ask: "nowhere" }, rename: { a: "verifed" }, set: { verified: "input.text == ''" } });
    f.migration("2");
    f.migration("1");
    const messages = () => {
      try {
        f.build();
        return [];
      } catch (e) {
        return (e as { problems: string[] }).problems;
      }
    };
    expect(messages()).toEqual([
      'flow: migrations[0] (from "1").stages.ask: maps stage "ask" to "nowhere", which is not a stage of this flow (greeting)',
      'flow: migrations[0] (from "1").state.rename.a: renames "a" to "verifed", which is not a declared state key (the flow\'s state_keys are verified)',
      'flow: migrations[0] (from "1").state.set.verified: migrations cannot read input (they can read state, session)',
      'flow: migrations[1] (from "2").from: a flow version cannot migrate from itself (2)',
      'flow: migrations[2] (from "1").from: a second migration from version 1; declare one per version',
    ]);
  });

  it("of a valid flow add no problem", () => {
    expect(validateFlow(version2(standard))).toEqual([]);
  });
});

describe("compileCelValue", () => {
  it("reads values back as JSON", () => {
    const vars = { state: { n: 2 }, input: {}, result: {}, session: {}, permissions: [] };
    const value = (expr: string) => compileCelValue(expr, "migration").program?.evaluate(vars);
    expect(value("state.n * 2.0")).toBe(4);
    expect(value("{'a': [1, 2u, 'x', true, null]}")).toEqual({ a: [1, 2, "x", true, null] });
    expect(value("{1: 'x'}")).toEqual(new Error("evaluated to a map with keys that are not strings"));
  });
});
