import * as net from "node:net";

/** The client connection preface that opens every HTTP/2 connection. */
const preface = 24;
const pingFrame = 0x6;

/**
 * PingTap is a TCP proxy in front of an HTTP/2 server that reads the
 * frames the client sends and calls `onPing` for each PING (not its ACK)
 * just before passing it on, so a test can act at the moment a PING is in
 * flight.
 */
export class PingTap {
  /** PINGs the client sent so far. */
  pings = 0;
  onPing: () => void = () => {};
  private readonly sockets = new Set<net.Socket>();

  private constructor(private readonly server: net.Server) {}

  /** start listens on a free loopback port, forwarding to `target` (host:port). */
  static async start(target: { host: string; port: number }): Promise<PingTap> {
    const server = net.createServer();
    const tap = new PingTap(server);
    server.on("connection", (client) => tap.proxy(client, target));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return tap;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as net.AddressInfo).port}`;
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private proxy(client: net.Socket, target: { host: string; port: number }): void {
    const upstream = net.connect(target.port, target.host);
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
      s.on("error", () => undefined);
    }
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
    upstream.pipe(client);
    // Frames are cut at arbitrary chunk boundaries: keep the unread tail.
    let pending = Buffer.alloc(0);
    let skip = preface;
    client.on("data", (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      let at = Math.min(skip, pending.length);
      skip -= at;
      let sent = 0;
      while (skip === 0 && pending.length - at >= 9) {
        const length = pending.readUIntBE(at, 3);
        const end = at + 9 + length;
        if (pending.length < end) break;
        if (pending.readUInt8(at + 3) === pingFrame && (pending.readUInt8(at + 4) & 1) === 0) {
          upstream.write(pending.subarray(sent, at));
          sent = at;
          this.pings++;
          this.onPing();
        }
        at = end;
      }
      upstream.write(pending.subarray(sent, at));
      pending = pending.subarray(at);
    });
  }
}
