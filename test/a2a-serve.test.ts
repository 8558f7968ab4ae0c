import { execFile } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { GetTaskRequest, SendMessageRequest, SubscribeToTaskRequest, TaskState } from "@a2a-js/sdk";
import { ClientFactory } from "@a2a-js/sdk/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OrchestratorService } from "../src/gen/switchboard/v1/orchestrator_pb.js";
import { SessionStatus, StepStatus } from "../src/gen/switchboard/v1/session_pb.js";
import { jsonLine, type Proc, repoRoot, type RunningOrchestrator, startContactCentreAgentsProcess, startOrchestratorProcess } from "./support/process.js";
import { Talker } from "./support/talker-agent.js";
import { ensureA2aPython } from "./support/tools.js";
import { jsRoundTrip, type RoundTripSteps } from "./support/a2a-js-round-trip.js";

const run = promisify(execFile);

/**
 * The official A2A SDKs as clients of a Switchboard flow: Python's
 * (a2a-sdk) over JSON-RPC and over gRPC, and JavaScript's (@a2a-js/sdk): a real orchestrator process runs the
 * contact-centre flow with its sample agents, its greeting served by the
 * Talker (whose gated turns stay running until the test says so).
 */
describe("a flow as an A2A agent, driven by the official SDKs", () => {
  const talker = new Talker();
  let agents: Proc & { agents: Record<string, string> };
  let orchestrator: RunningOrchestrator;
  let client: Client<typeof OrchestratorService>;
  let python: string;
  const flowsDir = mkdtempSync(join(tmpdir(), "switchboard-a2a-"));

  beforeAll(async () => {
    python = ensureA2aPython();
    copyFileSync(join(repoRoot, "flows/contact-centre.yaml"), join(flowsDir, "contact-centre.yaml"));
    const greeting = await talker.start();
    agents = await startContactCentreAgentsProcess();
    const urls = { ...agents.agents, greeting: greeting.url };
    const flags = Object.entries(urls).flatMap(([name, url]) => ["--agent", `${name}=${url}`]);
    orchestrator = await startOrchestratorProcess(["--flows", flowsDir, "--default-flow", "contact-centre", ...flags]);
    client = createClient(OrchestratorService, createGrpcTransport({ baseUrl: orchestrator.url }));
  });

  afterAll(async () => {
    await orchestrator?.stop();
    await agents?.stop();
    await talker.agent?.close();
    rmSync(flowsDir, { recursive: true, force: true });
  });

  /** roundTrip runs test/a2a-python/round_trip.py and returns its steps by name. */
  const roundTrip = async (transport: "jsonrpc" | "grpc"): Promise<RoundTripSteps> => {
    const gate = `py-${transport}`;
    const script = join(repoRoot, "test/a2a-python/round_trip.py");
    const { stdout } = await run(python, [script, orchestrator.url, transport, gate], { timeout: 60_000 });
    const steps: RoundTripSteps = {};
    for (const line of stdout.split("\n")) {
      const step = jsonLine(line);
      if (step !== undefined) steps[String(step["step"])] = step;
    }
    return steps;
  };

  /**
   * expectRoundTrip checks every step a client saw, then reads the session
   * it made through OrchestratorService: the context is a session like any
   * other, with its audit trail.
   */
  const expectRoundTrip = async (steps: RoundTripSteps) => {
    const card = steps["card"];
    expect(card?.["name"]).toBe("contact-centre");
    expect(card?.["streaming"]).toBe(true);
    expect(card?.["skills"]).toEqual(expect.arrayContaining(["contact-centre", "intent:refund", "intent:approve", "intent:verify_identity"]));
    expect(card?.["interfaces"]).toEqual([
      ["JSONRPC", `${orchestrator.url}/a2a/contact-centre`, "1.0"],
      ["GRPC", `127.0.0.1:${orchestrator.port}`, "1.0"],
    ]);

    const sent = steps["send"];
    expect(sent?.["state"]).toBe("TASK_STATE_COMPLETED");
    expect(sent?.["replies"]).toEqual(["You said: hello"]);
    const context = String(sent?.["context_id"]);
    expect(steps["get"]).toMatchObject({ task_id: sent?.["task_id"], state: "TASK_STATE_COMPLETED", replies: ["You said: hello"] });

    const streamed = steps["stream"];
    expect(streamed?.["state"]).toBe("TASK_STATE_COMPLETED");
    const kinds = streamed?.["kinds"] as string[];
    expect(kinds[0]).toBe("task");
    expect(kinds).toContain("artifact_update");
    expect(kinds.at(-1)).toBe("status_update");
    const chunks = streamed?.["chunks"] as Array<{ text: string; append: boolean }>;
    expect(chunks.map((c) => c.text).join("")).toBe("Thank you, you are verified.");
    expect(chunks.map((c) => c.append)).toEqual(chunks.map((_, i) => i > 0));

    expect(steps["input_required"]).toMatchObject({ state: "TASK_STATE_INPUT_REQUIRED", waiting: "supervisor approval for a refund above 100.00" });
    const refundTask = String(steps["input_required"]?.["task_id"]);
    expect(steps["answered"]).toMatchObject({
      task_id: refundTask,
      state: "TASK_STATE_COMPLETED",
      reply: "The refund was approved by supervisor-7.\nYour refund of 250.00 has been issued, reference RF-" + context + ".",
    });
    expect(steps["get_answered"]?.["state"]).toBe("TASK_STATE_COMPLETED");
    expect((steps["get_answered"]?.["replies"] as string[]).length).toBe(2);

    const cancel = steps["cancel"];
    expect(cancel?.["cancel_state"]).toBe("TASK_STATE_CANCELED");
    expect((cancel?.["stream_states"] as string[]).at(-1)).toBe("TASK_STATE_CANCELED");
    expect(cancel?.["get_state"]).toBe("TASK_STATE_CANCELED");
    expect(cancel?.["replies"]).toEqual(["part one. "]);

    expect(steps["unknown_task"]?.["error"]).toBe("TaskNotFoundError");

    // The context is a session like any other, with its audit trail.
    const { session } = await client.getSession({ sessionId: context });
    expect(session?.flowId).toBe("contact-centre");
    expect(session?.stage).toBe("closing");
    expect(session?.status).toBe(SessionStatus.ACTIVE);
    expect(session?.state?.["approved_by"]).toBe("supervisor-7");
    const trail = (await client.listSteps({ sessionId: context, pageSize: 1000 })).steps;
    const turns = trail.filter((s) => s.agent !== "" && s.details["branch"] === undefined);
    expect(turns.map((s) => [s.stage, s.agent, StepStatus[s.status]])).toEqual([
      ["greeting", "greeting", "OK"],
      ["authentication", "auth", "OK"],
      ["intent_capture", "triage", "OK"],
      ["intent_capture", "refund", "OK"],
      ["approval", "approval", "OK"],
      ["fulfilment", "refund", "OK"],
    ]);
    expect(turns[0]?.turnId).toBe(String(sent?.["task_id"]).split("~")[1]);
    expect(turns.at(-1)?.turnId.startsWith(`${refundTask.split("~")[1]}.`)).toBe(true);
    expect(turns.find((s) => s.stage === "approval")?.input?.metadata["actor"]).toBe("supervisor-7");
  };

  for (const transport of ["jsonrpc", "grpc"] as const) {
    it(`completes the round trip with the Python SDK over ${transport === "jsonrpc" ? "JSON-RPC" : "gRPC"}, and the session it made is in OrchestratorService with its audit trail`, async () => {
      await expectRoundTrip(await roundTrip(transport));
    });
  }

  it("completes the same round trip with the JS SDK's client (@a2a-js/sdk) over JSON-RPC", async () => {
    await expectRoundTrip(await jsRoundTrip(orchestrator.url, "js-jsonrpc"));
  });

  it("completes the same round trip with the JS SDK's client over gRPC", async () => {
    await expectRoundTrip(await jsRoundTrip(orchestrator.url, "js-grpc", "grpc"));
  });

  it("resubscribes to a running task (WatchSession): the task, the rest of its reply, its end", async () => {
    const a2a = await new ClientFactory().createFromUrl(orchestrator.url);
    const first = a2a.sendMessageStream(SendMessageRequest.fromJSON({ message: { messageId: "resub-1", role: "ROLE_USER", parts: [{ text: "gate:resub" }] } }));
    let taskId = "";
    for await (const ev of first) {
      if (ev.payload?.$case === "task") taskId = ev.payload.value.id;
      if (ev.payload?.$case === "artifactUpdate") break;
    }
    const seen: string[] = [];
    const again = (async () => {
      for await (const ev of a2a.resubscribeTask(SubscribeToTaskRequest.fromJSON({ id: taskId }))) {
        const p = ev.payload;
        if (p?.$case === "task") {
          seen.push(`task ${TaskState[p.value.status?.state ?? 0]} ${p.value.artifacts.length}`);
          talker.gate("resub").open();
        } else if (p?.$case === "artifactUpdate") seen.push(`artifact ${p.value.artifact?.parts.map((x) => (x.content?.$case === "text" ? x.content.value : "")).join("")}`);
        else if (p?.$case === "statusUpdate") seen.push(`status ${TaskState[p.value.status?.state ?? 0]}`);
      }
    })();
    await again;
    expect(seen).toEqual(["task TASK_STATE_WORKING 0", "artifact part two.", "status TASK_STATE_COMPLETED"]);
    const task = await a2a.getTask(GetTaskRequest.fromJSON({ id: taskId }));
    expect(task.artifacts.map((a) => a.parts.map((x) => (x.content?.$case === "text" ? x.content.value : "")).join(""))).toEqual(["part one. part two."]);
  });
});
