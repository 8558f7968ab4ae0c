import { createContextKey, type HandlerContext } from "@connectrpc/connect";
import type { Session } from "../gen/switchboard/v1/session_pb.js";
import { notFound } from "../core/errors.js";
import type { SessionStore } from "../core/ports.js";

/**
 * Identity is who a request comes from, as its bearer token says.
 */
export interface Identity {
  /** The tenant whose sessions the caller may read and write; `*` for every tenant (operators). */
  readonly tenant: string;
  /** A name for the caller (the token's name, or the JWT's subject), for logs. */
  readonly subject: string;
  /** What per-token limits count by: one key per token. */
  readonly key: string;
}

/**
 * anyTenant is the tenant of operator tokens: they see every tenant's sessions.
 */
export const anyTenant = "*";

/**
 * identityKey carries the caller's identity from the auth interceptor to
 * the handlers; unset when authentication is off.
 */
export const identityKey = createContextKey<Identity | undefined>(undefined, { description: "switchboard identity" });

/**
 * peerKey carries the caller's network address, which per-client limits
 * count by when authentication is off.
 */
export const peerKey = createContextKey<string>("", { description: "switchboard peer" });

/**
 * identityOf returns the caller's identity, or undefined when
 * authentication is off.
 */
export function identityOf(ctx: Pick<HandlerContext, "values">): Identity | undefined {
  return ctx.values.get(identityKey);
}

/**
 * TenantScope is what a request may touch: one tenant's sessions, or all
 * of them (authentication off, or an operator token).
 */
export interface TenantScope {
  /** The tenant new sessions belong to. */
  readonly tenant: string;
  /** True when the caller may touch every tenant's sessions. */
  readonly anyTenant: boolean;
}

/**
 * tenantScopeOf returns what the caller may touch.
 */
export function tenantScopeOf(ctx: Pick<HandlerContext, "values">): TenantScope {
  const identity = identityOf(ctx);
  if (identity === undefined) return { tenant: "", anyTenant: true };
  if (identity.tenant === anyTenant) return { tenant: "", anyTenant: true };
  return { tenant: identity.tenant, anyTenant: false };
}

/**
 * mayAccess tells whether a caller with `scope` may see a session of `tenant`.
 */
export function mayAccess(scope: TenantScope, tenant: string): boolean {
  return scope.anyTenant || scope.tenant === tenant;
}

/**
 * limitKeyOf is what per-client limits count by: the token, else the peer.
 */
export function limitKeyOf(values: HandlerContext["values"]): string {
  const identity = values.get(identityKey);
  return identity !== undefined ? identity.key : `peer:${values.get(peerKey)}`;
}

/**
 * sessionOfCaller reads a session the caller may see, or throws NOT_FOUND:
 * another tenant's session reads as missing, so its existence is not told.
 */
export async function sessionOfCaller(store: Pick<SessionStore, "get">, sessionId: string, ctx: Pick<HandlerContext, "values">): Promise<Session> {
  const session = await store.get(sessionId);
  if (session === undefined || !mayAccess(tenantScopeOf(ctx), session.tenant)) throw notFound(`session ${sessionId}`);
  return session;
}

/**
 * refuseOtherTenants throws NOT_FOUND for a session of another tenant, as
 * if it did not exist; a session that does not exist yet passes (the
 * caller may create it).
 */
export async function refuseOtherTenants(
  store: Pick<SessionStore, "get">,
  sessionId: string,
  ctx: Pick<HandlerContext, "values">,
  liveTenant?: string,
): Promise<void> {
  const scope = tenantScopeOf(ctx);
  if (scope.anyTenant) return;
  const session = await store.get(sessionId);
  // A session whose first turn is still running is not stored yet: the
  // tenant of the caller running it (`liveTenant`) says whose it is.
  const tenant = session?.tenant ?? liveTenant;
  if (tenant !== undefined && !mayAccess(scope, tenant)) throw notFound(`session ${sessionId}`);
}
