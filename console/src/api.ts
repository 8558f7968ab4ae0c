import { type Client, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { OrchestratorService } from "../../src/gen/switchboard/v1/orchestrator_pb.js";
import { RegistryService } from "../../src/gen/switchboard/v1/registry_pb.js";

/**
 * Api is the console's view of the orchestrator: the same services every
 * other client calls, over the Connect protocol, on the origin that served
 * the page.
 */
export interface Api {
  orchestrator: Client<typeof OrchestratorService>;
  registry: Client<typeof RegistryService>;
}

const tokenKey = "switchboard.console.token";

/**
 * savedToken is the bearer token of this browser tab. It lives in
 * sessionStorage only: it goes with the tab, and is never written to disk
 * beyond the browser's session.
 */
export function savedToken(): string {
  try {
    return sessionStorage.getItem(tokenKey) ?? "";
  } catch {
    return "";
  }
}

/**
 * saveToken keeps the token for this tab, or forgets it when empty.
 */
export function saveToken(token: string): void {
  if (token === "") sessionStorage.removeItem(tokenKey);
  else sessionStorage.setItem(tokenKey, token);
}

/**
 * createApi returns clients that send `authorization: Bearer TOKEN` with
 * every call (none with an empty token: a server without tokens lets
 * everyone act for every tenant).
 */
export function createApi(token: string, baseUrl: string = location.origin): Api {
  const bearer: Interceptor = (next) => (req) => {
    if (token !== "") req.header.set("authorization", `Bearer ${token}`);
    return next(req);
  };
  const transport = createConnectTransport({ baseUrl, interceptors: [bearer] });
  return { orchestrator: createClient(OrchestratorService, transport), registry: createClient(RegistryService, transport) };
}
