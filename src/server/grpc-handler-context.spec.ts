import { Code, ConnectError, createContextKey } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { OrchestratorService } from "../gen/switchboard/v1/orchestrator_pb.js";
import { CallValues, GrpcHandlerContext } from "./grpc-handler-context.js";

const method = OrchestratorService.method.sendTurn;
const context = (timeoutMs?: number) => new GrpcHandlerContext(OrchestratorService, method, new Headers({ a: "1" }), new CallValues(), "host:1", timeoutMs);

describe("GrpcHandlerContext", () => {
  it("aborts its signal with DEADLINE_EXCEEDED at the deadline and says how long is left before", async () => {
    const ctx = context(20);
    expect(ctx.timeoutMs()).toBeGreaterThan(0);
    await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve));
    expect(ConnectError.from(ctx.signal.reason).code).toBe(Code.DeadlineExceeded);
  });

  it("has no timeout without a deadline, and abort ends it with the reason given", () => {
    const ctx = context();
    expect(ctx.timeoutMs()).toBeUndefined();
    ctx.abort(new ConnectError("gone", Code.Canceled));
    ctx.abort(new ConnectError("later", Code.Internal));
    expect(ConnectError.from(ctx.signal.reason).rawMessage).toBe("gone");
  });

  it("names the call's URL and starts the reply's headers and trailers as gRPC does", () => {
    const ctx = context();
    expect(ctx.url).toBe("http://host:1/switchboard.v1.OrchestratorService/SendTurn");
    expect(ctx.responseHeader.get("content-type")).toBe("application/grpc+proto");
    expect(ctx.responseTrailer.get("grpc-status")).toBe("0");
    expect(ctx.responseHeader).toBe(ctx.responseHeader);
  });

  it("shows what an interceptor replaced and keeps the rest, response headers included", () => {
    const ctx = context();
    expect(ctx.with(ctx.requestHeader, ctx.values, ctx.signal)).toBe(ctx);
    const header = new Headers({ b: "2" });
    const seen = ctx.with(header, ctx.values, ctx.signal);
    expect(seen.requestHeader).toBe(header);
    expect(seen.responseHeader).toBe(ctx.responseHeader);
    expect(seen.method).toBe(method);
    expect(seen.url).toBe(ctx.url);
  });
});

describe("CallValues", () => {
  it("returns a key's default until it is set, and again after it is deleted", () => {
    const key = createContextKey("none");
    const values = new CallValues();
    expect(values.get(key)).toBe("none");
    expect(values.set(key, "some").get(key)).toBe("some");
    expect(values.delete(key).get(key)).toBe("none");
  });
});
