import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { SendTurnResponseSchema } from "../../src/gen/switchboard/v1/orchestrator_pb.js";
import {
  type Session,
  SessionSchema,
  SessionStatus,
  SessionTallySchema,
  StepKind,
  StepSchema,
  StepStatus,
} from "../../src/gen/switchboard/v1/session_pb.js";
import type { Commit, SessionStore } from "../../src/core/ports.js";

/**
 * ContractClock lets the contract move time for expiry.
 */
export interface ContractClock {
  now(): Date;
  advance(ms: number): void;
}

let counter = 0;

/**
 * storeContract is the behaviour every SessionStore must have. Each
 * implementation runs it against a fresh store.
 */
export function storeContract(name: string, setup: () => Promise<{ store: SessionStore; clock: ContractClock }>) {
  const uniqueId = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${(counter++).toString(36)}`;

  const sessionAt = (id: string, version: bigint, clock: ContractClock, state: Record<string, number | string> = {}): Session =>
    create(SessionSchema, {
      id,
      flowId: "f",
      flowVersion: "1",
      stage: "s",
      state,
      status: SessionStatus.ACTIVE,
      version,
      updateTime: timestampFromDate(clock.now()),
      expireTime: timestampFromDate(new Date(clock.now().getTime() + 60_000)),
    });

  const commitOf = (session: Session, extra: Partial<Commit> = {}): Commit => ({
    session,
    expectedVersion: session.version - 1n,
    reason: "turn",
    steps: [
      create(StepSchema, {
        sessionId: session.id,
        version: session.version,
        kind: StepKind.TURN,
        status: StepStatus.OK,
        output: `v${session.version}`,
      }),
    ],
    ...extra,
  });

  describe(`SessionStore contract: ${name}`, () => {
    it("creates a session at version 1 and reads it back", async () => {
      const { store, clock } = await setup();
      const id = uniqueId("create");
      expect(await store.get(id)).toBeUndefined();
      await store.commit(commitOf(sessionAt(id, 1n, clock, { a: 1 })));
      const got = await store.get(id);
      expect(got?.version).toBe(1n);
      expect(got?.state).toEqual({ a: 1 });
    });

    it("loads a turn's start in one call: the session, or the stored result of an applied turn", async () => {
      const { store, clock } = await setup();
      const id = uniqueId("load");
      expect(await store.load(id, "t1")).toEqual({});
      const v1 = sessionAt(id, 1n, clock, { n: 1 });
      const result = create(SendTurnResponseSchema, { sessionId: id, turnId: "t1", output: "first", session: v1 });
      await store.commit(commitOf(v1, { turn: { turnId: "t1", result } }));
      await store.commit(commitOf(sessionAt(id, 2n, clock, { n: 2 })));
      const fresh = await store.load(id, "t2");
      expect(fresh.replay).toBeUndefined();
      expect(fresh.session?.version).toBe(2n);
      expect(fresh.session?.state).toEqual({ n: 2 });
      const noTurnId = await store.load(id, "");
      expect(noTurnId.session?.version).toBe(2n);
      const replayed = await store.load(id, "t1");
      expect(replayed.replay?.output).toBe("first");
      expect(replayed.replay?.session?.version).toBe(1n);
      expect(replayed.replay).toEqual(await store.turnResult(id, "t1"));
    });

    it("refuses a commit from a stale version with ABORTED and keeps the winner", async () => {
      const { store, clock } = await setup();
      const id = uniqueId("cas");
      await store.commit(commitOf(sessionAt(id, 1n, clock, { who: "first" })));
      await store.commit(commitOf(sessionAt(id, 2n, clock, { who: "second" })));
      const err = await store.commit(commitOf(sessionAt(id, 2n, clock, { who: "stale" }))).catch((e: unknown) => e);
      expect(ConnectError.from(err).code).toBe(Code.Aborted);
      const twice = await store.commit(commitOf(sessionAt(id, 1n, clock, { who: "again" }))).catch((e: unknown) => e);
      expect(ConnectError.from(twice).code).toBe(Code.Aborted);
      expect((await store.get(id))?.state).toEqual({ who: "second" });
      const steps = await store.listSteps(id, { pageSize: 0, pageToken: "" });
      expect(steps.items.map((s) => s.output)).toEqual(["v1", "v2"]);
    });

    it("keeps one snapshot per version with the state as it was", async () => {
      const { store, clock } = await setup();
      const id = uniqueId("snap");
      for (let v = 1n; v <= 3n; v++) await store.commit(commitOf(sessionAt(id, v, clock, { v: Number(v) })));
      const page = await store.listSnapshots(id, { pageSize: 0, pageToken: "" });
      expect(page.items.map((s) => [s.version, s.session?.state])).toEqual([
        [1n, { v: 1 }],
        [2n, { v: 2 }],
        [3n, { v: 3 }],
      ]);
      expect((await store.snapshot(id, 2n))?.session?.state).toEqual({ v: 2 });
      expect(await store.snapshot(id, 9n)).toBeUndefined();
    });

    it("pages steps and snapshots in order", async () => {
      const { store, clock } = await setup();
      const id = uniqueId("page");
      for (let v = 1n; v <= 5n; v++) await store.commit(commitOf(sessionAt(id, v, clock)));
      const seen: string[] = [];
      let token = "";
      do {
        const page = await store.listSteps(id, { pageSize: 2, pageToken: token });
        seen.push(...page.items.map((s) => s.output));
        token = page.nextPageToken;
      } while (token !== "");
      expect(seen).toEqual(["v1", "v2", "v3", "v4", "v5"]);
      const first = await store.listSnapshots(id, { pageSize: 3, pageToken: "" });
      const rest = await store.listSnapshots(id, { pageSize: 3, pageToken: first.nextPageToken });
      expect([...first.items, ...rest.items].map((s) => s.version)).toEqual([1n, 2n, 3n, 4n, 5n]);
      expect(rest.nextPageToken).toBe("");
    });

    it("keeps each step's details, which resuming streams rebuild events from", async () => {
      const { store, clock } = await setup();
      const id = uniqueId("details");
      const details = { seq_accepted: "1", seq_output_end: "42", seq_textless: "3*2,9", seq_end: "43", heard_chars: "7" };
      await store.commit(
        commitOf(sessionAt(id, 1n, clock), {
          steps: [create(StepSchema, { sessionId: id, version: 1n, kind: StepKind.TURN, status: StepStatus.INTERRUPTED, output: "partial", details })],
        }),
      );
      await store.recordFailure(create(StepSchema, { sessionId: id, turnId: "f", status: StepStatus.FAILED, details: { seq_end: "44" } }));
      const steps = (await store.listSteps(id, { pageSize: 0, pageToken: "" })).items;
      expect(steps.map((s) => s.details)).toEqual([details, { seq_end: "44" }]);
    });

    it("stores a turn's result for replay by turn id", async () => {
      const { store, clock } = await setup();
      const id = uniqueId("turn");
      const result = create(SendTurnResponseSchema, { sessionId: id, turnId: "t-1", output: "first answer" });
      await store.commit(commitOf(sessionAt(id, 1n, clock), { turn: { turnId: "t-1", result } }));
      expect((await store.turnResult(id, "t-1"))?.output).toBe("first answer");
      expect(await store.turnResult(id, "t-2")).toBeUndefined();
    });

    it("records failed turns in the audit trail without a new version", async () => {
      const { store, clock } = await setup();
      const id = uniqueId("fail");
      await store.commit(commitOf(sessionAt(id, 1n, clock)));
      await store.recordFailure(
        create(StepSchema, { sessionId: id, turnId: "bad", status: StepStatus.FAILED, error: { code: "unavailable", message: "down" } }),
      );
      await store.commit(commitOf(sessionAt(id, 2n, clock)));
      const steps = (await store.listSteps(id, { pageSize: 0, pageToken: "" })).items;
      expect(steps.map((s) => s.status)).toEqual([StepStatus.OK, StepStatus.FAILED, StepStatus.OK]);
      expect((await store.get(id))?.version).toBe(2n);
    });

    it("lists sessions by status, most recent first", async () => {
      const { store, clock } = await setup();
      const waiting = uniqueId("waiting");
      const active = uniqueId("active");
      await store.commit(commitOf(sessionAt(active, 1n, clock)));
      clock.advance(10);
      const w = sessionAt(waiting, 1n, clock);
      w.status = SessionStatus.WAITING;
      await store.commit(commitOf(w));
      const page = await store.list({ status: SessionStatus.WAITING }, { pageSize: 500, pageToken: "" });
      expect(page.items.map((s) => s.id)).toContain(waiting);
      expect(page.items.map((s) => s.id)).not.toContain(active);
    });

    it("lists sessions by flow, flow version and the agents that served them", async () => {
      const { store, clock } = await setup();
      const flow = uniqueId("flow");
      const of = (id: string, version: string, agents: string[]) => {
        const s = sessionAt(id, 1n, clock);
        s.flowId = flow;
        s.flowVersion = version;
        s.tally = create(SessionTallySchema, { agents, turns: 1 });
        return s;
      };
      const [a, b, c] = [uniqueId("v1-triage"), uniqueId("v1-refund"), uniqueId("v2-triage")];
      await store.commit(commitOf(of(a, "1", ["greeting", "triage"])));
      await store.commit(commitOf(of(b, "1", ["greeting", "refund"])));
      await store.commit(commitOf(of(c, "2", ["triage"])));
      const ids = async (filter: Parameters<SessionStore["list"]>[0]) => (await store.list(filter, { pageSize: 500, pageToken: "" })).items.map((s) => s.id).sort();
      expect(await ids({ flowId: flow })).toEqual([a, b, c].sort());
      expect(await ids({ flowId: flow, flowVersion: "1" })).toEqual([a, b].sort());
      expect(await ids({ flowId: flow, agent: "triage" })).toEqual([a, c].sort());
      expect(await ids({ flowId: flow, flowVersion: "2", agent: "refund" })).toEqual([]);
      // A later turn's agents count.
      const later = of(b, "1", ["greeting", "refund", "triage"]);
      later.version = 2n;
      await store.commit(commitOf(later));
      expect(await ids({ flowId: flow, flowVersion: "1", agent: "triage" })).toEqual([a, b].sort());
    });

    it("deletes a session with its snapshots and steps", async () => {
      const { store, clock } = await setup();
      const id = uniqueId("delete");
      await store.commit(commitOf(sessionAt(id, 1n, clock)));
      expect(await store.delete(id)).toBe(true);
      expect(await store.get(id)).toBeUndefined();
      expect((await store.listSteps(id, { pageSize: 0, pageToken: "" })).items).toEqual([]);
      expect((await store.listSnapshots(id, { pageSize: 0, pageToken: "" })).items).toEqual([]);
      expect(await store.delete(id)).toBe(false);
      // The id can start afresh.
      await store.commit(commitOf(sessionAt(id, 1n, clock)));
      expect((await store.get(id))?.version).toBe(1n);
    });

    it("treats an expired session as gone", async () => {
      const { store, clock } = await setup();
      const id = uniqueId("expire");
      await store.commit(commitOf(sessionAt(id, 1n, clock)));
      clock.advance(61_000);
      expect(await store.get(id)).toBeUndefined();
    });
  });
}
