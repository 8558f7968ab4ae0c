import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import type { AddressInfo } from "node:net";
import type { GrpcStreamHandler } from "./grpc-stream-handler.js";

/**
 * RequestHandler handles both HTTP/1.1 and HTTP/2 requests, as the handler
 * of connectNodeAdapter does.
 */
export type RequestHandler = (
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
) => void;

/**
 * ListenOptions say where and how to listen.
 */
export interface ListenOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** HTTP/2 settings; the defaults raise the 64 KiB windows that cap streaming throughput. */
  http2Settings?: http2.Settings;
  /**
   * Interval of the PING frames sent on every HTTP/2 connection (default
   * 30 s; 0 turns them off). They keep idle streams (a Converse waiting
   * for the user, a WatchSession) alive through proxies and load balancers
   * that drop quiet connections, and find dead peers: a connection whose
   * ping is not answered by the next one is closed.
   */
  keepaliveMs?: number;
  /** Serve TLS (HTTP/2 and HTTP/1.1 by ALPN) instead of clear text. */
  tls?: ServerTls;
  /**
   * Offered every HTTP/2 stream before the request handler: the streams it
   * takes (gRPC calls) skip Node's compatibility layer; the rest reach the
   * handler as requests.
   */
  grpc?: GrpcStreamHandler;
}

/**
 * ServerTls is the server's certificate and, to require client
 * certificates (mutual TLS), the CA that signs them.
 */
export interface ServerTls {
  cert: Buffer | string;
  key: Buffer | string;
  /** CA certificates that client certificates must chain to; set to require client certificates. */
  clientCa?: Buffer | string;
}

/**
 * HttpServer serves one port for every protocol Connect speaks, in clear
 * text: gRPC and Connect over HTTP/2 (prior knowledge, as grpcurl and gRPC
 * clients do), and Connect and gRPC-Web over HTTP/1.1 (curl, browsers). It
 * tells the two apart by the HTTP/2 connection preface.
 */
export class HttpServer {
  private readonly listener: net.Server;
  private readonly h1: http.Server;
  private readonly h2: http2.Http2Server | http2.Http2SecureServer;
  private readonly sockets = new Set<net.Socket>();
  private readonly sessions = new Set<http2.ServerHttp2Session>();

  constructor(handler: RequestHandler, private readonly opts: ListenOptions) {
    const settings = { initialWindowSize: 1 << 20, maxConcurrentStreams: 10_000, ...opts.http2Settings };
    const tls = opts.tls;
    this.h2 =
      tls === undefined
        ? http2.createServer({ settings }, handler)
        : http2.createSecureServer(
            {
              settings,
              allowHTTP1: true,
              cert: tls.cert,
              key: tls.key,
              ...(tls.clientCa !== undefined ? { ca: tls.clientCa, requestCert: true, rejectUnauthorized: true } : {}),
            },
            handler,
          );
    if (opts.grpc !== undefined) offerStreams(this.h2, opts.grpc);
    this.h2.on("session", (session) => {
      // A larger connection window lets many streams run at full speed.
      session.setLocalWindowSize?.(8 << 20);
      this.sessions.add(session);
      const stopPinging = keepalive(session, opts.keepaliveMs ?? 30_000);
      session.once("close", () => {
        stopPinging();
        this.sessions.delete(session);
      });
    });
    this.h1 = http.createServer(handler);
    this.h1.keepAliveTimeout = 65_000;
    if (tls === undefined) {
      // Nagle off: a gRPC stream is a run of small frames, and with it on they
      // wait on the client's delayed ACKs (grpc-js's server does the same).
      this.listener = net.createServer({ noDelay: true }, (socket) => this.accept(socket));
    } else {
      // TLS picks the protocol by ALPN: the secure server is the listener.
      this.listener = this.h2 as unknown as net.Server;
      this.listener.on("secureConnection", (socket: net.Socket) => this.track(socket));
      // A failed handshake (a wrong client certificate) ends that connection only.
      this.listener.on("tlsClientError", () => {});
    }
  }

  private track(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.once("close", () => this.sockets.delete(socket));
  }

  private accept(socket: net.Socket): void {
    this.track(socket);
    socket.once("error", () => socket.destroy());
    socket.once("readable", () => {
      const head: Buffer | null = socket.read();
      if (head === null) {
        socket.destroy();
        return;
      }
      socket.unshift(head);
      // "PRI * HTTP/2.0" opens every HTTP/2 connection with prior knowledge.
      const target = head.subarray(0, 3).toString("latin1") === "PRI" ? this.h2 : this.h1;
      target.emit("connection", socket);
    });
  }

  /**
   * listen starts listening and returns the bound port.
   */
  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.listener.once("error", reject);
      this.listener.listen(this.opts.port, this.opts.host, () => {
        this.listener.off("error", reject);
        resolve();
      });
    });
    return (this.listener.address() as AddressInfo).port;
  }

  /**
   * close stops accepting connections, asks HTTP/2 clients to go away
   * (GOAWAY) and ends idle HTTP/1.1 connections; then, after `graceMs`,
   * destroys whatever is left.
   */
  async close(graceMs = 1000): Promise<void> {
    const closed = new Promise<void>((resolve) => this.listener.close(() => resolve()));
    for (const session of this.sessions) session.close();
    this.h1.closeIdleConnections();
    const timer = setTimeout(() => {
      for (const socket of this.sockets) socket.destroy();
    }, graceMs);
    timer.unref();
    await closed;
    clearTimeout(timer);
  }
}

/**
 * offerStreams puts `grpc` in front of the server's compatibility layer:
 * Node installs that layer as the server's "stream" listener when a
 * request handler is given; it now runs only for the streams `grpc`
 * declines. (HTTP/1.1 requests on a TLS port reach the handler directly.)
 */
function offerStreams(server: http2.Http2Server | http2.Http2SecureServer, grpc: GrpcStreamHandler): void {
  const compat = server.listeners("stream") as Array<(...args: unknown[]) => void>;
  server.removeAllListeners("stream");
  server.on("stream", (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, ...rest: unknown[]) => {
    if (grpc(stream, headers)) return;
    for (const listener of compat) listener.call(server, stream, headers, ...rest);
  });
}

/**
 * keepalive pings an HTTP/2 session every `intervalMs` and destroys it when
 * a ping is still unanswered at the next; it returns the function that
 * stops it.
 */
function keepalive(session: http2.ServerHttp2Session, intervalMs: number): () => void {
  if (intervalMs <= 0) return () => undefined;
  let awaiting = false;
  const timer = setInterval(() => {
    if (session.destroyed || session.closed) return;
    if (awaiting) {
      session.destroy(new Error(`keepalive: no answer to a PING within ${intervalMs}ms`));
      return;
    }
    awaiting = true;
    try {
      session.ping((err) => {
        if (err === null) awaiting = false;
      });
    } catch {
      awaiting = false;
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
