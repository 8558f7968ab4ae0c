import { createReadStream, statSync } from "node:fs";
import type * as http from "node:http";
import type * as http2 from "node:http2";
import { extname, join, normalize, sep } from "node:path";
import { packageDir } from "../package-dir.js";
import type { RequestHandler } from "./http-server.js";

/**
 * consolePath is where the orchestrator serves the console on its port.
 */
export const consolePath = "/console/";

/**
 * consoleDir is where `npm run build` puts the built console (Vite's output).
 */
export const consoleDir = join(packageDir, "dist", "console");

const contentTypes: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
};

type Request = http.IncomingMessage | http2.Http2ServerRequest;
type Response = http.ServerResponse | http2.Http2ServerResponse;

/**
 * withConsole returns a handler that serves the console's static files
 * under `/console/` and hands every other request to `rpc`. Files under
 * `assets/` carry a content hash in their names (Vite's), so they are
 * cached for a year; index.html is never cached, so a new build is picked
 * up on the next load. A path under `/console/` that names no file gets
 * index.html: the app's own routes (`/console/sessions/ID`) load the app.
 */
export function withConsole(rpc: RequestHandler, dir: string = consoleDir): RequestHandler {
  return (req, res) => {
    const url = req.url ?? "";
    if (!(url.startsWith(consolePath) || url === "/console" || url.startsWith("/console?"))) {
      rpc(req, res);
      return;
    }
    serveConsole(req, res, dir);
  };
}

function serveConsole(req: Request, res: Response, dir: string): void {
  const method = req.method ?? "GET";
  if (method !== "GET" && method !== "HEAD") {
    send(res, 405, "text/plain; charset=utf-8", "the console's files are read with GET\n", { allow: "GET, HEAD" });
    return;
  }
  const path = (req.url ?? "").split(/[?#]/, 1)[0] ?? "";
  if (path === "/console") {
    send(res, 308, "text/plain; charset=utf-8", "", { location: consolePath });
    return;
  }
  let relative: string;
  try {
    relative = decodeURIComponent(path.slice(consolePath.length));
  } catch {
    send(res, 400, "text/plain; charset=utf-8", "the path is not valid percent-encoding\n");
    return;
  }
  // normalize folds "a/../b"; anything still climbing out, or absolute, or
  // carrying a NUL, is refused rather than resolved.
  const clean = normalize(relative === "" ? "index.html" : relative);
  if (clean.startsWith("..") || clean.includes("\0") || clean.startsWith(sep) || clean.split(sep).includes("..")) {
    send(res, 404, "text/plain; charset=utf-8", "not found\n");
    return;
  }
  const file = fileOf(dir, clean);
  if (file === undefined) {
    // An asset that is not there is a stale page asking for an old build:
    // a 404 says so, where index.html would be parsed as a script.
    if (clean.startsWith(`assets${sep}`) || extname(clean) !== "") {
      send(res, 404, "text/plain; charset=utf-8", "not found\n");
      return;
    }
    const index = fileOf(dir, "index.html");
    if (index === undefined) {
      send(res, 503, "text/plain; charset=utf-8", `the console is not built: run 'npm run build' (it writes ${dir})\n`);
      return;
    }
    stream(req, res, index, "index.html");
    return;
  }
  stream(req, res, file, clean);
}

function fileOf(dir: string, relative: string): { path: string; size: number } | undefined {
  const path = join(dir, relative);
  try {
    const stat = statSync(path);
    return stat.isFile() ? { path, size: stat.size } : undefined;
  } catch {
    return undefined;
  }
}

function stream(req: Request, res: Response, file: { path: string; size: number }, relative: string): void {
  const hashed = relative.startsWith(`assets${sep}`);
  res.writeHead(200, {
    "content-type": contentTypes[extname(relative)] ?? "application/octet-stream",
    "content-length": String(file.size),
    "cache-control": hashed ? "public, max-age=31536000, immutable" : "no-cache",
    "x-content-type-options": "nosniff",
  });
  if (req.method === "HEAD") {
    res.end();
    return;
  }
  const body = createReadStream(file.path);
  body.on("error", () => res.destroy());
  body.pipe(res as NodeJS.WritableStream);
}

function send(res: Response, status: number, type: string, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": type, "content-length": String(Buffer.byteLength(body)), ...headers });
  res.end(body);
}
