import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Health } from "../src/gen/grpc/health/v1/health_pb.js";
import { ServerReflection } from "../src/gen/grpc/reflection/v1/reflection_pb.js";
import { OrchestratorService } from "../src/gen/switchboard/v1/orchestrator_pb.js";
import { type AuthSettings, defaultPublicMethods, sha256Hex } from "../src/server/auth.js";
import { type InProcess, startInProcess } from "./support/in-process.js";

const acme = "acme-token-0123456789";
const globex = "globex-token-0123456789";
const operator = "operator-token-0123456789";
const secret = new TextEncoder().encode("a shared secret of at least 32 bytes!!");

const codeOf = (e: unknown) => ConnectError.from(e).code;

/**
 * Clients authenticate with bearer tokens, and a token acts for one tenant:
 * it can neither read nor write another tenant's sessions.
 */
describe("authentication and tenants", () => {
  let sb: InProcess;

  const client = (token?: string) =>
    createClient(
      OrchestratorService,
      createGrpcTransport({
        baseUrl: sb.url,
        interceptors: token === undefined ? [] : [(next) => (req) => (req.header.set("authorization", `Bearer ${token}`), next(req))],
      }),
    );

  beforeAll(async () => {
    const auth: AuthSettings = {
      tokens: [
        { name: "acme-gw", tenant: "acme", sha256: sha256Hex(acme) },
        { name: "globex-gw", tenant: "globex", sha256: sha256Hex(globex) },
        { name: "ops", tenant: "*", sha256: sha256Hex(operator) },
      ],
      jwt: { secret, tenantClaim: "tenant", issuer: "https://idp.example" },
      publicMethods: defaultPublicMethods,
    };
    sb = await startInProcess({ operability: { auth } });
  });
  afterAll(async () => sb?.close());

  it("refuses a request without a token, and changes nothing", async () => {
    const err = await client().sendTurn({ sessionId: "anon-1", input: { text: "hi" } }).catch((e: unknown) => e);
    expect(codeOf(err)).toBe(Code.Unauthenticated);
    expect(ConnectError.from(err).rawMessage).toContain("authorization: Bearer");
    await expect(client(operator).getSession({ sessionId: "anon-1" })).rejects.toMatchObject({ code: Code.NotFound });
  });

  it("refuses an unknown token", async () => {
    const err = await client("not-a-real-token-at-all").getSession({ sessionId: "x" }).catch((e: unknown) => e);
    expect(codeOf(err)).toBe(Code.Unauthenticated);
  });

  it("keeps tenant B's token out of tenant A's session: no read, no write, no change", async () => {
    const a = client(acme);
    const b = client(globex);
    const first = await a.sendTurn({ sessionId: "acme-1", input: { text: "hi" } });
    expect(first.session?.tenant).toBe("acme");
    const before = await a.getSession({ sessionId: "acme-1" });
    const stepsBefore = await a.listSteps({ sessionId: "acme-1" });

    const attempts: Array<[string, () => Promise<unknown>]> = [
      ["GetSession", () => b.getSession({ sessionId: "acme-1" })],
      ["SendTurn", () => b.sendTurn({ sessionId: "acme-1", input: { text: "let me in" } })],
      ["SendTurn replay", () => b.sendTurn({ sessionId: "acme-1", turnId: "t-1", input: { text: "x" } })],
      ["ListSteps", () => b.listSteps({ sessionId: "acme-1" })],
      ["ListSnapshots", () => b.listSnapshots({ sessionId: "acme-1" })],
      ["RollbackSession", () => b.rollbackSession({ sessionId: "acme-1", version: 1n })],
      ["ForkSession", () => b.forkSession({ sessionId: "acme-1", newSessionId: "stolen" })],
      ["DeleteSession", () => b.deleteSession({ sessionId: "acme-1" })],
    ];
    for (const [name, attempt] of attempts) {
      const err = await attempt().catch((e: unknown) => e);
      expect(codeOf(err), name).toBe(Code.NotFound);
      expect(ConnectError.from(err).rawMessage, name).toBe("session acme-1 not found");
    }
    const listed = await b.listSessions({});
    expect(listed.sessions.map((s) => s.id)).not.toContain("acme-1");

    const after = await a.getSession({ sessionId: "acme-1" });
    expect(after.session).toEqual(before.session);
    expect((await a.listSteps({ sessionId: "acme-1" })).steps).toEqual(stepsBefore.steps);
    await expect(a.getSession({ sessionId: "stolen" })).rejects.toMatchObject({ code: Code.NotFound });
  });

  it("lists only the token's tenant, and everything for an operator token", async () => {
    await client(globex).sendTurn({ sessionId: "globex-1", input: { text: "hi" } });
    const a = (await client(acme).listSessions({})).sessions.map((s) => s.id);
    const ops = (await client(operator).listSessions({})).sessions.map((s) => s.id);
    expect(a).toContain("acme-1");
    expect(a).not.toContain("globex-1");
    expect(ops).toEqual(expect.arrayContaining(["acme-1", "globex-1"]));
  });

  it("accepts a JWT signed with the shared secret, scoped by its tenant claim", async () => {
    const jwt = await new SignJWT({ tenant: "acme" })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("gateway-7")
      .setIssuer("https://idp.example")
      .setExpirationTime("5m")
      .sign(secret);
    const { session } = await client(jwt).getSession({ sessionId: "acme-1" });
    expect(session?.tenant).toBe("acme");
    await expect(client(jwt).getSession({ sessionId: "globex-1" })).rejects.toMatchObject({ code: Code.NotFound });
  });

  it.each([
    ["expired", () => new SignJWT({ tenant: "acme" }).setProtectedHeader({ alg: "HS256" }).setIssuer("https://idp.example").setExpirationTime(Math.floor(Date.now() / 1000) - 60).sign(secret), "expired"],
    ["signed with another secret", () => new SignJWT({ tenant: "acme" }).setProtectedHeader({ alg: "HS256" }).setIssuer("https://idp.example").sign(new TextEncoder().encode("another secret of at least 32 bytes!!")), "not valid"],
    ["without a tenant claim", () => new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setIssuer("https://idp.example").sign(secret), "tenant"],
    ["from another issuer", () => new SignJWT({ tenant: "acme" }).setProtectedHeader({ alg: "HS256" }).setIssuer("https://evil.example").sign(secret), "iss"],
  ])("refuses a JWT %s", async (_, make, words) => {
    const err = await client(await make()).getSession({ sessionId: "acme-1" }).catch((e: unknown) => e);
    expect(codeOf(err)).toBe(Code.Unauthenticated);
    expect(ConnectError.from(err).rawMessage).toContain(words);
  });

  it("keeps health and reflection reachable without a token by default", async () => {
    const transport = createGrpcTransport({ baseUrl: sb.url });
    const health = await createClient(Health, transport).check({});
    expect(health.status).toBe(1);
    const reflection = createClient(ServerReflection, transport).serverReflectionInfo(
      (async function* () {
        yield { messageRequest: { case: "listServices", value: "" } };
      })(),
    );
    for await (const res of reflection) {
      expect(res.messageResponse.case).toBe("listServicesResponse");
      break;
    }
  });
});

describe("authentication with a JWKS and no public methods", () => {
  let sb: InProcess;
  let keys: Awaited<ReturnType<typeof generateKeyPair>>;
  let client: (token?: string) => Client<typeof Health>;

  beforeAll(async () => {
    keys = await generateKeyPair("ES256");
    const jwk = { ...(await exportJWK(keys.publicKey)), kid: "k1", alg: "ES256", use: "sig" };
    sb = await startInProcess({
      operability: { auth: { tokens: [], jwt: { jwks: { keys: [jwk] }, tenantClaim: "org" }, publicMethods: [] } },
    });
    client = (token) =>
      createClient(
        Health,
        createGrpcTransport({
          baseUrl: sb.url,
          interceptors: token === undefined ? [] : [(next) => (req) => (req.header.set("authorization", `Bearer ${token}`), next(req))],
        }),
      );
  });
  afterAll(async () => sb?.close());

  it("requires a token for health when the operator makes nothing public", async () => {
    await expect(client().check({})).rejects.toMatchObject({ code: Code.Unauthenticated });
  });

  it("accepts a token signed by a key of the JWKS, tenant from the configured claim", async () => {
    const jwt = await new SignJWT({ org: "acme" }).setProtectedHeader({ alg: "ES256", kid: "k1" }).setExpirationTime("1m").sign(keys.privateKey);
    expect((await client(jwt).check({})).status).toBe(1);
    const orch = createClient(
      OrchestratorService,
      createGrpcTransport({ baseUrl: sb.url, interceptors: [(next) => (req) => (req.header.set("authorization", `Bearer ${jwt}`), next(req))] }),
    );
    const res = await orch.sendTurn({ sessionId: "jwks-1", input: { text: "hi" } });
    expect(res.session?.tenant).toBe("acme");
  });

  it("refuses a token signed by a key outside the JWKS", async () => {
    const other = await generateKeyPair("ES256");
    const jwt = await new SignJWT({ org: "acme" }).setProtectedHeader({ alg: "ES256", kid: "k1" }).sign(other.privateKey);
    await expect(client(jwt).check({})).rejects.toMatchObject({ code: Code.Unauthenticated });
  });
});
