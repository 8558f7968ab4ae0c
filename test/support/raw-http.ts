import * as http2 from "node:http2";
import * as net from "node:net";

/**
 * RawResponse is a response as it came off the wire: the status, the
 * headers (names in lower case) and every body byte that arrived, with
 * HTTP/1.1 chunked framing removed.
 */
export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/**
 * h1Request sends one POST over a fresh HTTP/1.1 connection, written by
 * hand, and reads until the server closes it (the request says
 * `Connection: close`), so bytes past a wrong Content-Length are seen
 * rather than swallowed by a client's parser.
 */
export function h1Request(port: number, path: string, headers: Record<string, string>, body: Uint8Array): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    socket.setTimeout(10_000, () => socket.destroy(new Error(`h1Request ${path}: no end of the response within 10s`)));
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("error", reject);
    socket.on("close", () => {
      try {
        resolve(parseH1(Buffer.concat(chunks)));
      } catch (e) {
        reject(e as Error);
      }
    });
    const head = [`POST ${path} HTTP/1.1`, "host: 127.0.0.1", ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), `content-length: ${body.byteLength}`, "connection: close", "", ""];
    // Not half-closed: the server answers, then closes (`Connection: close`).
    socket.write(Buffer.concat([Buffer.from(head.join("\r\n"), "latin1"), body]));
  });
}

function parseH1(raw: Buffer): RawResponse {
  const end = raw.indexOf("\r\n\r\n");
  if (end < 0) throw new Error(`h1Request: no complete response head in ${JSON.stringify(raw.toString("latin1"))}`);
  const [statusLine = "", ...lines] = raw.subarray(0, end).toString("latin1").split("\r\n");
  const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(statusLine)?.[1]);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const rest = raw.subarray(end + 4);
  return { status, headers, body: headers["transfer-encoding"] === "chunked" ? dechunk(rest) : rest };
}

function dechunk(raw: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = raw.indexOf("\r\n", at);
    if (eol < 0) throw new Error("h1Request: chunked body ends without its last chunk");
    const size = parseInt(raw.subarray(at, eol).toString("latin1"), 16);
    if (!Number.isFinite(size)) throw new Error("h1Request: malformed chunk size");
    if (size === 0) return Buffer.concat(parts);
    parts.push(raw.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
}

/**
 * h2Request sends one POST on an HTTP/2 session and collects the response;
 * it rejects when the stream fails (as when the DATA frames disagree with
 * the Content-Length).
 */
export function h2Request(session: http2.ClientHttp2Session, path: string, headers: Record<string, string>, body: Uint8Array): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ":method": "POST", ":path": path, ...headers });
    const chunks: Buffer[] = [];
    let status = 0;
    const got: Record<string, string> = {};
    stream.setTimeout(10_000, () => stream.close(http2.constants.NGHTTP2_CANCEL));
    stream.on("response", (h) => {
      status = Number(h[":status"]);
      for (const [k, v] of Object.entries(h)) if (!k.startsWith(":") && v !== undefined) got[k] = String(v);
    });
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("error", reject);
    stream.on("close", () => {
      if (stream.rstCode !== http2.constants.NGHTTP2_NO_ERROR) reject(new Error(`h2Request ${path}: stream reset with code ${stream.rstCode}`));
      else resolve({ status, headers: got, body: Buffer.concat(chunks) });
    });
    stream.end(body);
  });
}

/**
 * Envelope is one message of a streaming body: its flags and its bytes.
 */
export interface Envelope {
  flags: number;
  data: Buffer;
}

/**
 * envelope frames a message as streaming protocols do: a flag byte, a
 * 32-bit big-endian length, the bytes.
 */
export function envelope(data: Uint8Array, flags = 0): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt8(flags, 0);
  head.writeUInt32BE(data.byteLength, 1);
  return Buffer.concat([head, data]);
}

/**
 * envelopes splits a streaming body into its messages, throwing when the
 * last one is cut short.
 */
export function envelopes(body: Buffer): Envelope[] {
  const out: Envelope[] = [];
  let at = 0;
  while (at < body.length) {
    if (body.length - at < 5) throw new Error(`envelopes: ${body.length - at} stray bytes after the last message`);
    const length = body.readUInt32BE(at + 1);
    if (body.length - at - 5 < length) throw new Error(`envelopes: a message promises ${length} bytes, ${body.length - at - 5} arrived`);
    out.push({ flags: body.readUInt8(at), data: body.subarray(at + 5, at + 5 + length) });
    at += 5 + length;
  }
  return out;
}
