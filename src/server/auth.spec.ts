import { describe, expect, it } from "vitest";
import { Authenticator, publicMatcher, sha256Hex, validateTokens } from "./auth.js";

describe("tokens file", () => {
  it("hashes plain tokens and keeps hashed ones", () => {
    const tokens = validateTokens(
      { tokens: [{ name: "gw", tenant: "acme", token: "0123456789abcdef" }, { tenant: "*", sha256: "A".repeat(64) }] },
      "t.yaml",
    );
    expect(tokens).toEqual([
      { name: "gw", tenant: "acme", sha256: sha256Hex("0123456789abcdef") },
      { name: "token-1", tenant: "*", sha256: "a".repeat(64) },
    ]);
  });

  it.each([
    [{}, 'expected a "tokens" list'],
    [{ tokens: [{ token: "0123456789abcdef" }] }, 'tokens[0]: "tenant" must be a non-empty string'],
    [{ tokens: [{ tenant: "a b", token: "0123456789abcdef" }] }, "is not valid"],
    [{ tokens: [{ tenant: "a", token: "short" }] }, "16 characters or more"],
    [{ tokens: [{ tenant: "a", token: "0123456789abcdef" }, { tenant: "b", token: "0123456789abcdef" }] }, "the same token appears twice"],
  ])("refuses %j", (doc, message) => {
    expect(() => validateTokens(doc, "t.yaml")).toThrow(message);
  });
});

describe("Authenticator", () => {
  const auth = new Authenticator({ tokens: [{ name: "gw", tenant: "acme", sha256: sha256Hex("0123456789abcdef") }], publicMethods: [] });

  it("returns the identity of a known token", async () => {
    await expect(auth.authenticate("Bearer 0123456789abcdef")).resolves.toEqual({ tenant: "acme", subject: "gw", key: "token:gw" });
  });

  it.each([
    [null, "missing bearer token"],
    ["Basic abc", "is not 'Bearer TOKEN'"],
    ["Bearer nope-nope-nope-nope", "not valid"],
  ])("refuses %s", async (header, message) => {
    await expect(auth.authenticate(header)).rejects.toThrow(message);
  });

  it("matches public services by alias, service or method", () => {
    const isPublic = publicMatcher(["health", "switchboard.v1.RegistryService/Register"]);
    expect(isPublic("grpc.health.v1.Health", "Check")).toBe(true);
    expect(isPublic("switchboard.v1.RegistryService", "Register")).toBe(true);
    expect(isPublic("switchboard.v1.RegistryService", "ListAgents")).toBe(false);
    expect(isPublic("grpc.reflection.v1.ServerReflection", "ServerReflectionInfo")).toBe(false);
  });
});
