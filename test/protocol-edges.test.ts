import { execFile } from "node:child_process";
import * as http2 from "node:http2";
import { promisify } from "node:util";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OrchestratorService } from "../src/gen/switchboard/v1/orchestrator_pb.js";
import { startInProcess, type InProcess } from "./support/in-process.js";
import { repoRoot } from "./support/process.js";
import { envelope, envelopes, h1Request, h2Request, type RawResponse } from "./support/raw-http.js";

/**
 * The edges of the wire: request bodies that are not what their
 * content-type says (broken Protobuf, JSON that is not UTF-8) get a
 * complete, well-formed INVALID_ARGUMENT over either HTTP version, and the
 * command line stops quietly when its reader goes away.
 */

const service = "/switchboard.v1.OrchestratorService";

/** Protobuf bodies that do not parse, each broken its own way. */
const malformed: Record<string, number[]> = {
  // Field 1 (a string) whose length varint never ends.
  "truncated varint": [0x0a, 0xff],
  // Field 1 with wire type 6, which does not exist.
  "illegal wire type": [0x0e, 0x01],
  // Field 1 (a string) sent as a varint.
  "wrong wire type": [0x08, 0x96, 0x01],
  // A string that claims 4 GiB and carries one byte.
  "oversized length": [0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x61],
  // A nested message whose length runs past the end of the body.
  "nested length past the end": [0x2a, 0x05, 0x0a, 0x10, 0x61],
};

type Send = (path: string, headers: Record<string, string>, body: Uint8Array) => Promise<RawResponse>;

describe("protocol edges", () => {
  let p: InProcess;
  let session: http2.ClientHttp2Session;
  const sends: Record<string, Send> = {};

  beforeAll(async () => {
    p = await startInProcess();
    session = http2.connect(p.url);
    sends["HTTP/1.1"] = (path, headers, body) => h1Request(p.orchestrator.port, path, headers, body);
    sends["HTTP/2"] = (path, headers, body) => h2Request(session, path, headers, body);
  });

  afterAll(async () => {
    session?.close();
    await p?.close();
  });

  /** expectCompleteJson checks a unary error body: all there, its length declared right, JSON. */
  const expectCompleteJson = (res: RawResponse, what: string): { code: string; message: string } => {
    expect(res.headers["content-type"], what).toBe("application/json");
    expect(Number(res.headers["content-length"]), `${what}: Content-Length against ${JSON.stringify(res.body.toString())}`).toBe(res.body.byteLength);
    return JSON.parse(res.body.toString("utf8")) as { code: string; message: string };
  };

  for (const version of ["HTTP/1.1", "HTTP/2"]) {
    describe(`over ${version}`, () => {
      it("answers a malformed binary body to a unary call with a complete INVALID_ARGUMENT that names the message", async () => {
        for (const [shape, bytes] of Object.entries(malformed)) {
          for (const method of ["SendTurn", "GetSession"]) {
            const what = `${shape} to ${method}`;
            const res = await sends[version]!(`${service}/${method}`, { "content-type": "application/proto", "connect-protocol-version": "1" }, new Uint8Array(bytes));
            expect(res.status, what).toBe(400);
            const err = expectCompleteJson(res, what);
            expect(err.code, what).toBe("invalid_argument");
            expect(err.message, what).toMatch(new RegExp(`^the request body is not a valid switchboard\\.v1\\.${method}Request in the Protobuf binary format \\(.+\\)`));
          }
        }
      });

      it("ends a streaming call whose message is malformed Protobuf with a complete INVALID_ARGUMENT end-stream", async () => {
        for (const [shape, bytes] of Object.entries(malformed)) {
          // A bidirectional stream needs HTTP/2 (Connect answers 505 over HTTP/1.1).
          for (const method of version === "HTTP/2" ? ["WatchSession", "Converse"] : ["WatchSession"]) {
            const what = `${shape} to ${method}`;
            const res = await sends[version]!(`${service}/${method}`, { "content-type": "application/connect+proto", "connect-protocol-version": "1" }, envelope(new Uint8Array(bytes)));
            expect(res.status, what).toBe(200);
            if (res.headers["content-length"] !== undefined) expect(Number(res.headers["content-length"]), what).toBe(res.body.byteLength);
            const messages = envelopes(res.body);
            const end = messages.at(-1);
            expect(end?.flags, what).toBe(0b10);
            const { error } = JSON.parse(end!.data.toString("utf8")) as { error: { code: string; message: string } };
            expect(error.code, what).toBe("invalid_argument");
            expect(error.message, what).toMatch(new RegExp(`^the request body is not a valid switchboard\\.v1\\.${method}Request in the Protobuf binary format \\(.+\\)`));
          }
        }
      });

      it("refuses JSON with invalid UTF-8 in a string, storing nothing", async () => {
        const enc = new TextEncoder();
        const bad = [[0xff], [0xc3, 0x28], [0xe2, 0x28, 0xa1], [0xf0, 0x90, 0x28, 0xbc], [0xed, 0xa0, 0x80], [0xc0, 0xaf]];
        let n = 0;
        for (const bytes of bad) {
          for (const where of ["text", "metadata"] as const) {
            const id = `utf8-${version === "HTTP/2" ? "h2" : "h1"}-${n++}`;
            const [before, after] = where === "text" ? [`{"sessionId":"${id}","input":{"text":"a`, `b"}}`] : [`{"sessionId":"${id}","input":{"text":"a","metadata":{"k":"`, `"}}}`];
            const body = Buffer.concat([enc.encode(before), Buffer.from(bytes), enc.encode(after)]);
            const what = `${Buffer.from(bytes).toString("hex")} in ${where}`;
            const res = await sends[version]!(`${service}/SendTurn`, { "content-type": "application/json", "connect-protocol-version": "1" }, body);
            expect(res.status, what).toBe(400);
            const err = expectCompleteJson(res, what);
            expect(err.code, what).toBe("invalid_argument");
            expect(err.message, what).toMatch(/^the request body is not valid UTF-8/);
            const get = await sends[version]!(`${service}/GetSession`, { "content-type": "application/json", "connect-protocol-version": "1" }, enc.encode(JSON.stringify({ sessionId: id })));
            expect(get.status, `${what}: the session must not exist`).toBe(404);
          }
        }
        // The same in a streaming call's JSON message.
        const stream = await sends[version]!(
          `${service}/WatchSession`,
          { "content-type": "application/connect+json", "connect-protocol-version": "1" },
          envelope(Buffer.concat([enc.encode('{"sessionId":"utf8-'), Buffer.from([0xc3, 0x28]), enc.encode('"}')])),
        );
        expect(stream.status).toBe(200);
        const end = envelopes(stream.body).at(-1);
        expect(end?.flags).toBe(0b10);
        const { error } = JSON.parse(end!.data.toString("utf8")) as { error: { code: string; message: string } };
        expect(error).toMatchObject({ code: "invalid_argument", message: expect.stringMatching(/^the request body is not valid UTF-8/) as unknown });
        // Valid UTF-8 beyond ASCII still goes through, as it was sent.
        const id = `utf8-${version === "HTTP/2" ? "h2" : "h1"}-ok`;
        const ok = await sends[version]!(`${service}/SendTurn`, { "content-type": "application/json", "connect-protocol-version": "1" }, enc.encode(JSON.stringify({ sessionId: id, input: { text: "café 🙂 ü" } })));
        expect(ok.status, ok.body.toString()).toBe(200);
        const got = await sends[version]!(`${service}/GetSession`, { "content-type": "application/json", "connect-protocol-version": "1" }, enc.encode(JSON.stringify({ sessionId: id })));
        expect(JSON.stringify(JSON.parse(got.body.toString("utf8")))).toContain("café 🙂 ü");
      });
    });
  }

  it("`switchboard sessions show ID | head -1` prints the first line and exits 0, silently; so does every listing", async () => {
    // A transcript far larger than a pipe's buffer: the command is still
    // writing when `head` has its line and goes away.
    const client = createClient(OrchestratorService, createGrpcTransport({ baseUrl: p.url }));
    for (let i = 0; i < 3; i++) await client.sendTurn({ sessionId: "piped-1", input: { text: `${i}`.repeat(60_000) } });
    const script = 'url=$1; shift; set -o pipefail; "$0" --import tsx src/cli/main.ts "$@" --server "$url" | head -1; echo "pipestatus ${PIPESTATUS[*]}"';
    const runs: Array<[string[], string]> = [
      [["sessions", "show", "piped-1"], "session     piped-1"],
      [["sessions", "show", "piped-1", "--json"], "{"],
      [["sessions", "steps", "piped-1", "--json"], "["],
      [["sessions", "ls", "--json"], "["],
    ];
    for (const [argv, first] of runs) {
      const r = await promisify(execFile)("bash", ["-c", script, process.execPath, p.url, ...argv], { cwd: repoRoot });
      expect(r.stderr, argv.join(" ")).toBe("");
      expect(r.stdout, argv.join(" ")).toBe(`${first}\npipestatus 0 0\n`);
    }
  });
});
