import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { emptyProject, sh } from "./support/sdk-project.js";

/**
 * The contracts archive as a team in another language uses it: unpacked
 * outside the repository, its .proto files and its descriptor set each
 * enough to generate code with protoc.
 */
describe("the contracts archive", () => {
  const project = emptyProject("contracts");
  const top = join(project.dir, "switchboard-contracts-0.1.0");

  beforeAll(async () => {
    await sh(project.dir, "tar", ["-xzf", inject("sdks").contracts]);
  });

  afterAll(() => project.remove());

  it("holds the .proto files, the descriptor set with its comments, and the guide", () => {
    for (const f of ["README.md", "proto/switchboard/v1/agent.proto", "proto/grpc/health/v1/health.proto", "switchboard.binpb"]) {
      expect(existsSync(join(top, f)), f).toBe(true);
    }
    const set = fromBinary(FileDescriptorSetSchema, readFileSync(join(top, "switchboard.binpb")));
    const agent = set.file.find((f) => f.name === "switchboard/v1/agent.proto");
    expect(agent?.service.map((s) => s.name)).toEqual(["AgentService"]);
    expect(agent?.sourceCodeInfo?.location.some((l) => l.leadingComments.length > 0)).toBe(true);
  });

  it("generates code with protoc from the .proto files and from the descriptor set alone", async () => {
    const protoc = [inject("python"), "-m", "grpc_tools.protoc"];
    const run = (args: string[]) => sh(top, protoc[0] ?? "", [...protoc.slice(1), ...args]);
    await sh(top, "mkdir", ["-p", "from-proto", "from-set"]);
    await run(["-I", "proto", "--python_out=from-proto", "--grpc_python_out=from-proto", "proto/switchboard/v1/agent.proto"]);
    await run([
      "--descriptor_set_in=switchboard.binpb",
      "--python_out=from-set",
      "--grpc_python_out=from-set",
      "switchboard/v1/agent.proto",
    ]);
    for (const dir of ["from-proto", "from-set"]) {
      expect(readFileSync(join(top, dir, "switchboard/v1/agent_pb2_grpc.py"), "utf8")).toContain("class AgentServiceServicer");
    }
  });
});
