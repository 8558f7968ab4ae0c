import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { createLocalJWKSet, errors as joseErrors, type JSONWebKeySet, jwtVerify, type JWTVerifyGetKey } from "jose";
import { parse as parseYaml } from "yaml";
import type { Metrics } from "./metrics.js";
import { anyTenant, type Identity, identityKey, peerKey } from "./identity.js";

/**
 * StaticToken is one client token from the tokens file. Only the token's
 * SHA-256 is kept in memory.
 */
export interface StaticToken {
  /** A name for the client, shown in logs. */
  name: string;
  /** The tenant the token may act for; `*` for every tenant. */
  tenant: string;
  /** The hex SHA-256 of the token. */
  sha256: string;
}

/**
 * JwtSettings configure JSON Web Token bearer tokens: signed with a shared
 * secret (HS256/384/512) or with a key from a JWKS file.
 */
export interface JwtSettings {
  /** The shared secret for HS256, HS384, HS512. */
  secret?: Uint8Array;
  /** The public keys (a JSON Web Key Set), e.g. for RS256 or ES256. */
  jwks?: JSONWebKeySet;
  /** The required `iss` claim, if any. */
  issuer?: string;
  /** The required `aud` claim, if any. */
  audience?: string;
  /** The claim that names the tenant (default "tenant"). */
  tenantClaim: string;
}

/**
 * AuthSettings configure client authentication.
 */
export interface AuthSettings {
  tokens: StaticToken[];
  jwt?: JwtSettings;
  /**
   * Services (`grpc.health.v1.Health`) or methods
   * (`switchboard.v1.RegistryService/Register`) reachable without a token;
   * `health` and `reflection` stand for the standard services.
   */
  publicMethods: string[];
}

/**
 * defaultPublicMethods are reachable without a token unless configured
 * otherwise: health (load balancers), reflection (the schema is public
 * anyway) and the agents' own registration calls, which carry their own
 * registration token.
 */
export const defaultPublicMethods = [
  "health",
  "reflection",
  "switchboard.v1.RegistryService/Register",
  "switchboard.v1.RegistryService/Heartbeat",
  "switchboard.v1.RegistryService/Deregister",
];

const aliases: Record<string, string[]> = {
  health: ["grpc.health.v1.Health"],
  reflection: ["grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"],
};

/**
 * sha256Hex returns the hex SHA-256 of a token.
 */
export function sha256Hex(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

/**
 * loadTokensFile reads client tokens from a YAML or JSON file:
 *
 * ```yaml
 * tokens:
 *   - { name: gateway-acme, tenant: acme, token: "s3cret" }
 *   - { name: ops, tenant: "*", sha256: "9f86d0…" }
 * ```
 */
export function loadTokensFile(path: string): StaticToken[] {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(path, "utf8"));
  } catch (e) {
    throw new Error(`tokens file ${path}: ${e instanceof Error ? e.message : String(e)}`);
  }
  return validateTokens(doc, path);
}

/**
 * validateTokens checks the contents of a tokens file and hashes plain tokens.
 */
export function validateTokens(doc: unknown, source: string): StaticToken[] {
  const list = (doc as { tokens?: unknown } | null)?.tokens;
  if (!Array.isArray(list)) throw new Error(`tokens file ${source}: expected a "tokens" list`);
  const seen = new Set<string>();
  return list.map((entry: unknown, i) => {
    const where = `tokens file ${source}: tokens[${i}]`;
    if (typeof entry !== "object" || entry === null) throw new Error(`${where}: expected an object`);
    const e = entry as Record<string, unknown>;
    const tenant = e["tenant"];
    if (typeof tenant !== "string" || tenant === "") throw new Error(`${where}: "tenant" must be a non-empty string ("*" for every tenant)`);
    if (tenant !== anyTenant && !/^[A-Za-z0-9._:-]{1,128}$/.test(tenant)) {
      throw new Error(`${where}: tenant ${JSON.stringify(tenant)} is not valid: use 1 to 128 of A-Z a-z 0-9 . _ : -`);
    }
    let sha256: string;
    if (typeof e["token"] === "string" && e["token"].length >= 16) sha256 = sha256Hex(e["token"]);
    else if (typeof e["sha256"] === "string" && /^[0-9a-f]{64}$/i.test(e["sha256"])) sha256 = e["sha256"].toLowerCase();
    else throw new Error(`${where}: set "token" (16 characters or more) or "sha256" (64 hex digits)`);
    if (seen.has(sha256)) throw new Error(`${where}: the same token appears twice`);
    seen.add(sha256);
    const name = typeof e["name"] === "string" && e["name"] !== "" ? e["name"] : `token-${i}`;
    return { name, tenant, sha256 };
  });
}

/**
 * Authenticator checks bearer tokens: a static token from the tokens file,
 * else a JWT.
 */
export class Authenticator {
  private readonly byHash = new Map<string, StaticToken>();
  private readonly jwtKey: Uint8Array | JWTVerifyGetKey | undefined;

  constructor(private readonly settings: AuthSettings) {
    for (const t of settings.tokens) this.byHash.set(t.sha256, t);
    const jwt = settings.jwt;
    this.jwtKey = jwt?.secret ?? (jwt?.jwks ? createLocalJWKSet(jwt.jwks) : undefined);
  }

  /**
   * authenticate returns the identity of an `authorization` header value,
   * or throws UNAUTHENTICATED saying what is wrong.
   */
  async authenticate(authorization: string | null): Promise<Identity> {
    if (authorization === null || authorization === "") {
      throw unauthenticated("missing bearer token: send the header 'authorization: Bearer TOKEN'");
    }
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (m === null) throw unauthenticated("the authorization header is not 'Bearer TOKEN'");
    const token = m[1] as string;
    const found = this.byHash.get(sha256Hex(token));
    if (found !== undefined) return { tenant: found.tenant, subject: found.name, key: `token:${found.name}` };
    if (this.jwtKey !== undefined && token.split(".").length === 3) return this.verifyJwt(token);
    throw unauthenticated("the bearer token is not valid");
  }

  private async verifyJwt(token: string): Promise<Identity> {
    const jwt = this.settings.jwt as JwtSettings;
    try {
      const options = {
        ...(jwt.issuer !== undefined ? { issuer: jwt.issuer } : {}),
        ...(jwt.audience !== undefined ? { audience: jwt.audience } : {}),
        algorithms: jwt.secret !== undefined ? ["HS256", "HS384", "HS512"] : ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"],
      };
      const { payload } =
        this.jwtKey instanceof Uint8Array
          ? await jwtVerify(token, this.jwtKey, options)
          : await jwtVerify(token, this.jwtKey as JWTVerifyGetKey, options);
      const tenant = payload[jwt.tenantClaim];
      if (typeof tenant !== "string" || tenant === "") {
        throw unauthenticated(`the token has no "${jwt.tenantClaim}" claim naming its tenant`);
      }
      const subject = payload.sub ?? "jwt";
      return { tenant, subject, key: `jwt:${tenant}:${subject}` };
    } catch (e) {
      if (e instanceof ConnectError) throw e;
      if (e instanceof joseErrors.JWTExpired) throw unauthenticated("the bearer token has expired");
      if (e instanceof joseErrors.JWTClaimValidationFailed) throw unauthenticated(`the bearer token is not valid: ${e.message}`);
      throw unauthenticated("the bearer token is not valid");
    }
  }
}

function unauthenticated(message: string): ConnectError {
  return new ConnectError(message, Code.Unauthenticated);
}

/**
 * publicMatcher returns a test of whether a method is reachable without a token.
 */
export function publicMatcher(publicMethods: string[]): (service: string, method: string) => boolean {
  const names = new Set(publicMethods.flatMap((n) => aliases[n] ?? [n]));
  return (service, method) => names.has(service) || names.has(`${service}/${method}`);
}

/**
 * authInterceptor refuses calls without a valid bearer token (except to
 * public methods) and hands the caller's identity to the handlers.
 */
export function authInterceptor(auth: Authenticator, publicMethods: string[], metrics?: Metrics): Interceptor {
  const isPublic = publicMatcher(publicMethods);
  const check = async (header: string | null) => {
    try {
      return await auth.authenticate(header);
    } catch (e) {
      metrics?.authFailed(header === null ? "missing" : "invalid");
      throw e;
    }
  };
  return (next) => async (req) => {
    const header = req.header.get("authorization");
    // A public method called without a token acts for no tenant: it never
    // sees another tenant's sessions, even if an operator makes a session
    // method public by mistake.
    const identity =
      header === null && isPublic(req.service.typeName, req.method.name)
        ? { tenant: "", subject: "anonymous", key: `peer:${req.contextValues.get(peerKey)}` }
        : await check(header);
    req.contextValues.set(identityKey, identity);
    return next(req);
  };
}
