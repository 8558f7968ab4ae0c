import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { AgentsFileError, parseAgentsFile } from "./agents-file.js";

const yaml = `
agents:
  - name: billing
    endpoint: http://10.0.0.7:7001/
    version: "2.1"
    intents: [billing_question]
    metadata: { team: payments }
  - name: billing
    endpoint: http://10.0.0.8:7001
limits:
  billing:
    max_concurrent_turns: 16
`;

describe("parseAgentsFile", () => {
  it("reads instances with their cards, and per-agent limits", () => {
    const file = parseAgentsFile(parse(yaml), "agents.yaml");
    expect(file.instances).toEqual([
      {
        name: "billing",
        endpoint: "http://10.0.0.7:7001",
        card: { version: "2.1", description: "", intents: ["billing_question"], metadata: { team: "payments" } },
      },
      { name: "billing", endpoint: "http://10.0.0.8:7001", card: { version: "", description: "", intents: [], metadata: {} } },
    ]);
    expect(file.limits).toEqual({ billing: { maxConcurrentTurns: 16 } });
  });

  it.each([
    [{ agents: [{ name: "x" }] }, "agents[0]: endpoint: must not be empty"],
    [{ agents: [{ name: "x", endpoint: "ftp://h:1" }] }, "agents[0]: endpoint:"],
    [{ agents: [{ name: "bad name", endpoint: "http://h:1" }] }, "agents[0]: card.name:"],
    [{ agents: [{ name: "x", endpoint: "http://h:1", port: 1 }] }, "agents[0].port: unknown key"],
    [{ agents: {} }, "agents: must be a list"],
    [{ agent: [] }, "agent: unknown key"],
    [{ limits: { x: { max_concurrent_turns: 0 } } }, "limits.x.max_concurrent_turns: must be an integer of at least 1"],
    [{ limits: { x: { max_turns: 3 } } }, "limits.x.max_turns: unknown key"],
  ])("names the file and the field of a problem (%#)", (doc, message) => {
    expect(() => parseAgentsFile(doc, "agents.yaml")).toThrow(AgentsFileError);
    expect(() => parseAgentsFile(doc, "agents.yaml")).toThrow(`agents.yaml: ${message}`);
  });
});
