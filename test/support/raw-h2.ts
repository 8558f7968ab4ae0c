import * as net from "node:net";

/**
 * RawFrame is one HTTP/2 frame as read off the wire.
 */
export interface RawFrame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

/** Frame types used by the tests. */
export const frameType = { data: 0x0, headers: 0x1, rstStream: 0x3, settings: 0x4, goaway: 0x7 } as const;

function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head.writeUInt8(type, 3);
  head.writeUInt8(flags, 4);
  head.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([head, payload]);
}

function hpackString(s: string): Buffer {
  const bytes = Buffer.from(s, "latin1");
  if (bytes.length >= 127) throw new Error("raw-h2: header too long for this encoder");
  return Buffer.concat([Buffer.from([bytes.length]), bytes]);
}

/**
 * RawH2 is an HTTP/2 client that writes frames by hand, so a test can do
 * what well-behaved clients never do (open more streams than the server
 * allows), and reads the frames the server answers with. Header blocks it
 * sends are HPACK literals without indexing; it does not decode the
 * server's header blocks.
 */
export class RawH2 {
  readonly frames: RawFrame[] = [];
  private buffer = Buffer.alloc(0);
  private waiters: Array<() => void> = [];

  private constructor(private readonly socket: net.Socket) {
    socket.on("data", (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      while (this.buffer.length >= 9) {
        const length = this.buffer.readUIntBE(0, 3);
        if (this.buffer.length < 9 + length) break;
        const f = {
          type: this.buffer.readUInt8(3),
          flags: this.buffer.readUInt8(4),
          streamId: this.buffer.readUInt32BE(5) & 0x7fffffff,
          payload: this.buffer.subarray(9, 9 + length),
        };
        this.buffer = this.buffer.subarray(9 + length);
        this.frames.push(f);
        // Acknowledge the server's settings, as the protocol requires.
        if (f.type === frameType.settings && (f.flags & 1) === 0) socket.write(frame(frameType.settings, 1, 0));
      }
      for (const w of this.waiters.splice(0)) w();
    });
    socket.on("close", () => {
      for (const w of this.waiters.splice(0)) w();
    });
  }

  /** connect opens a connection and sends the preface and empty settings. */
  static async connect(port: number): Promise<RawH2> {
    const socket = net.connect(port, "127.0.0.1");
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    socket.write(Buffer.concat([Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1"), frame(frameType.settings, 0, 0)]));
    return new RawH2(socket);
  }

  /** waitFor resolves with the first frame (past or future) that matches. */
  async waitFor(match: (f: RawFrame) => boolean): Promise<RawFrame> {
    for (;;) {
      const found = this.frames.find(match);
      if (found !== undefined) return found;
      if (this.socket.destroyed) throw new Error("raw-h2: connection closed");
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /**
   * headers opens a stream with the given headers (pseudo-headers first);
   * `endStream` says no body follows.
   */
  headers(streamId: number, headers: Array<[string, string]>, endStream = false): void {
    const block = Buffer.concat(headers.map(([k, v]) => Buffer.concat([Buffer.from([0]), hpackString(k), hpackString(v)])));
    this.socket.write(frame(frameType.headers, 0x4 | (endStream ? 0x1 : 0), streamId, block));
  }

  /** data sends body bytes on a stream. */
  data(streamId: number, payload: Buffer, endStream = true): void {
    this.socket.write(frame(frameType.data, endStream ? 1 : 0, streamId, payload));
  }

  close(): void {
    this.socket.destroy();
  }
}
