import * as http from "node:http";
import * as http2 from "node:http2";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { consoleDir } from "../src/server/console-files.js";
import { type InProcess, startInProcess } from "./support/in-process.js";
import { startSwitchboard } from "./support/process.js";

interface Got {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** h1 sends one request over HTTP/1.1 with the path exactly as given. */
function h1(port: number, path: string, method = "GET"): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path, method, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on("error", reject);
    req.end();
  });
}

/** h2 sends one GET over HTTP/2 with prior knowledge, as gRPC clients connect. */
function h2(session: http2.ClientHttp2Session, path: string): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = session.request({ ":path": path, ":method": "GET" });
    const chunks: Buffer[] = [];
    let headers: http2.IncomingHttpHeaders = {};
    req.on("response", (h) => (headers = h));
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve({ status: Number(headers[":status"]), headers: headers as Got["headers"], body: Buffer.concat(chunks) }));
    req.on("error", reject);
    req.end();
  });
}

/**
 * The orchestrator serves the built console under /console/ on its own
 * port, over HTTP/1.1 and HTTP/2, next to the RPCs.
 */
describe("the console's files", () => {
  let sb: InProcess;
  let port = 0;
  let session: http2.ClientHttp2Session;
  const script = readdirSync(join(consoleDir, "assets")).find((f) => f.endsWith(".js")) ?? "";

  beforeAll(async () => {
    sb = await startInProcess();
    port = sb.orchestrator.port;
    session = http2.connect(sb.url);
  });
  afterAll(async () => {
    session?.close();
    await sb?.close();
  });

  it("serves index.html, never cached, over HTTP/1.1 and HTTP/2", async () => {
    const index = readFileSync(join(consoleDir, "index.html"));
    for (const got of [await h1(port, "/console/"), await h2(session, "/console/")]) {
      expect(got.status).toBe(200);
      expect(got.headers["content-type"]).toBe("text/html; charset=utf-8");
      expect(got.headers["cache-control"]).toBe("no-cache");
      expect(got.body.equals(index)).toBe(true);
    }
  });

  it("serves hashed assets with their content type, cached for a year", async () => {
    expect(script).toMatch(/^index-[\w-]+\.js$/);
    for (const got of [await h1(port, `/console/assets/${script}`), await h2(session, `/console/assets/${script}`)]) {
      expect(got.status).toBe(200);
      expect(got.headers["content-type"]).toBe("text/javascript; charset=utf-8");
      expect(got.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
      expect(got.body.equals(readFileSync(join(consoleDir, "assets", script)))).toBe(true);
    }
    const css = readdirSync(join(consoleDir, "assets")).find((f) => f.endsWith(".css")) ?? "";
    expect((await h1(port, `/console/assets/${css}`)).headers["content-type"]).toBe("text/css; charset=utf-8");
  });

  it("answers the app's own routes with index.html, and a missing asset with 404", async () => {
    const index = readFileSync(join(consoleDir, "index.html"));
    expect((await h1(port, "/console/sessions/call-1")).body.equals(index)).toBe(true);
    expect((await h2(session, "/console/flows/contact-centre?x=1")).body.equals(index)).toBe(true);
    expect((await h1(port, "/console/assets/index-gone.js")).status).toBe(404);
    const bare = await h1(port, "/console");
    expect(bare.status).toBe(308);
    expect(bare.headers["location"]).toBe("/console/");
  });

  it("never serves a file outside the console's directory", async () => {
    for (const path of ["/console/../package.json", "/console/%2e%2e/package.json", "/console/assets/..%2f..%2f..%2fpackage.json", "/console/%2e%2e%2f%2e%2e%2fpackage.json", "/console/..%5c..%5cpackage.json", "/console/%00"]) {
      const got = await h1(port, path);
      expect(got.status, path).toBeGreaterThanOrEqual(400);
      expect(got.body.toString(), path).not.toContain('"name": "switchboard"');
    }
  });

  it("refuses methods other than GET and HEAD, and HEAD sends no body", async () => {
    const post = await h1(port, "/console/", "POST");
    expect(post.status).toBe(405);
    expect(post.headers["allow"]).toBe("GET, HEAD");
    const head = await h1(port, "/console/", "HEAD");
    expect(head.status).toBe(200);
    expect(head.body.byteLength).toBe(0);
  });

  it("leaves the RPCs where they were", async () => {
    const got = await new Promise<Got>((resolve, reject) => {
      const req = http.request(
        { host: "127.0.0.1", port, path: "/switchboard.v1.OrchestratorService/ListFlows", method: "POST", headers: { "content-type": "application/json" }, agent: false },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        },
      );
      req.on("error", reject);
      req.end("{}");
    });
    expect(got.status).toBe(200);
    expect(JSON.parse(got.body.toString()).flows.length).toBeGreaterThan(0);
    expect((await h1(port, "/consoles")).status).toBe(404);
  });

  it("is announced by what npm start runs, at a URL that serves it", async () => {
    const demo = startSwitchboard(["demo", "--port", "0"]);
    try {
      const line = await demo.waitForLine((l) => l.includes("Open the console in a browser: "));
      const url = /(http:\/\/\S+\/console\/)/.exec(line)?.[1] ?? "";
      const res = await fetch(url);
      expect(res.status).toBe(200);
      expect(await res.text()).toContain("<title>Switchboard console</title>");
    } finally {
      await demo.stop();
    }
  });
});
