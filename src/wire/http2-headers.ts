import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http2";

/**
 * headersOf adds Node's incoming HTTP/2 headers (or trailers) to a Fetch
 * API `Headers`, as Connect presents them, leaving out the pseudo-headers
 * (`:path`, `:status`, ...).
 */
export function headersOf(from: IncomingHttpHeaders, to: Headers = new Headers()): Headers {
  for (const name in from) {
    if (name.charCodeAt(0) === 58 /* ":" */) continue;
    const value = from[name];
    if (typeof value === "string") to.set(name, value);
    else if (Array.isArray(value)) for (const v of value) to.append(name, v);
  }
  return to;
}

/** outgoing adds `header` to Node's outgoing header object `into`. */
export function outgoing(header: Headers, into: OutgoingHttpHeaders = {}): OutgoingHttpHeaders {
  header.forEach((value, name) => {
    into[name] = value;
  });
  return into;
}
