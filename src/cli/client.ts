import { readFileSync } from "node:fs";
import { type Client, createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import type { DescService } from "@bufbuild/protobuf";
import { UsageError } from "./command.js";

/**
 * connectionOptions are the options of every command that talks to a
 * running orchestrator.
 */
export const connectionOptions = {
  server: { type: "string" },
  token: { type: "string" },
  ca: { type: "string" },
  cert: { type: "string" },
  key: { type: "string" },
} as const;

/**
 * connectionUsage documents connectionOptions.
 */
export const connectionUsage = `Connection (each also from the environment):
  --server URL     the orchestrator      SWITCHBOARD_SERVER  http://127.0.0.1:50051
  --token TOKEN    bearer token          SWITCHBOARD_TOKEN   none
  --ca FILE        PEM CA of an https:// server              SWITCHBOARD_CA
  --cert FILE      PEM client certificate (mutual TLS)      SWITCHBOARD_CERT
  --key FILE       PEM key of --cert                         SWITCHBOARD_KEY`;

/**
 * orchestratorClient makes a gRPC client for a service of the orchestrator
 * named by --server (with --token, --ca, --cert, --key).
 */
export function orchestratorClient<S extends DescService>(
  service: S,
  values: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
): Client<S> {
  const pick = (flag: string, name: string) => (values[flag] as string | undefined) ?? env[name] ?? "";
  const server = pick("server", "SWITCHBOARD_SERVER") || "http://127.0.0.1:50051";
  if (!/^https?:\/\/[^/]+\/?$/.test(server)) throw new UsageError(`--server: ${JSON.stringify(server)} is not http://HOST:PORT or https://HOST:PORT`);
  const token = pick("token", "SWITCHBOARD_TOKEN");
  const read = (flag: string, name: string) => {
    const path = pick(flag, name);
    if (path === "") return undefined;
    try {
      return readFileSync(path, "utf8");
    } catch (e) {
      throw new UsageError(`--${flag} ${path}: ${e instanceof Error ? e.message : String(e)}`);
    }
  };
  const ca = read("ca", "SWITCHBOARD_CA");
  const cert = read("cert", "SWITCHBOARD_CERT");
  const key = read("key", "SWITCHBOARD_KEY");
  const interceptors: Interceptor[] =
    token === ""
      ? []
      : [
          (next) => (req) => {
            req.header.set("authorization", `Bearer ${token}`);
            return next(req);
          },
        ];
  return createClient(
    service,
    createGrpcTransport({
      baseUrl: server,
      interceptors,
      ...(server.startsWith("https:")
        ? { nodeOptions: { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) } }
        : {}),
    }),
  );
}
