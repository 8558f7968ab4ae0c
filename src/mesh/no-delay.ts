import type { Duplex } from "node:stream";
import { connect as netConnect, isIP } from "node:net";
import { connect as tlsConnect } from "node:tls";

/**
 * noDelayConnection opens the TCP (or TLS) connection for an HTTP/2
 * session with Nagle's algorithm off. Node's HTTP/2 client leaves it on,
 * and a gRPC turn is a run of small frames each waiting for the last to be
 * acknowledged: with it on, a stream's frames wait on delayed ACKs and a
 * turn takes several times longer. grpc-js turns it off for the same
 * reason. Pass it as `nodeOptions.createConnection` of Connect's transport.
 */
export function noDelayConnection(authority: URL): Duplex {
  const host = authority.hostname.replace(/^\[|\]$/g, "");
  const tls = authority.protocol === "https:";
  const socket = netConnect({ host, port: Number(authority.port || (tls ? 443 : 80)), noDelay: true });
  if (!tls) return socket;
  return tlsConnect({ socket, ALPNProtocols: ["h2"], ...(isIP(host) === 0 ? { servername: host } : {}) });
}
