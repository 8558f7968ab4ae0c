import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OrchestratorService } from "../src/gen/switchboard/v1/orchestrator_pb.js";
import { type InProcess, startInProcess } from "./support/in-process.js";

/**
 * ListSessions narrows by flow, flow version and the agent that served a
 * session (what the console's filters send), and says which filter is
 * malformed.
 */
describe("ListSessions filters", () => {
  let sb: InProcess;
  const client = () => createClient(OrchestratorService, createGrpcTransport({ baseUrl: sb.url }));
  const ids = async (filter: Parameters<ReturnType<typeof client>["listSessions"]>[0]) =>
    (await client().listSessions({ ...filter, pageSize: 500 })).sessions.map((s) => s.id).sort();

  beforeAll(async () => {
    sb = await startInProcess();
    await client().sendTurn({ sessionId: "filter-a", input: { text: "hello" } });
    await client().sendTurn({ sessionId: "filter-b", input: { text: "hello" } });
  });
  afterAll(async () => sb?.close());

  it("lists the sessions of a flow and version, and those an agent served", async () => {
    expect(await ids({ flowId: "assistant" })).toEqual(["filter-a", "filter-b"]);
    expect(await ids({ flowId: "assistant", flowVersion: "1" })).toEqual(["filter-a", "filter-b"]);
    expect(await ids({ flowId: "assistant", flowVersion: "2" })).toEqual([]);
    expect(await ids({ flowId: "contact-centre" })).toEqual([]);
    expect(await ids({ agent: "echo" })).toEqual(["filter-a", "filter-b"]);
    expect(await ids({ agent: "triage" })).toEqual([]);
  });

  it("refuses a malformed filter with INVALID_ARGUMENT naming it", async () => {
    for (const [field, filter] of [
      ["flow_id", { flowId: "no such flow" }],
      ["flow_version", { flowVersion: "1 2" }],
      ["agent", { agent: "a/b" }],
    ] as const) {
      const err = await client().listSessions(filter).then(() => undefined, (e: unknown) => ConnectError.from(e));
      expect(err?.code, field).toBe(Code.InvalidArgument);
      expect(err?.rawMessage, field).toContain(field);
    }
  });
});
