import { constants } from "node:http2";
import { Code, ConnectError } from "@connectrpc/connect";

/**
 * resetError is the status of an HTTP/2 stream closed with RST_STREAM
 * `rstCode`, as gRPC maps HTTP/2 codes (REFUSED_STREAM is UNAVAILABLE,
 * CANCEL is CANCELED); undefined for a stream that closed cleanly.
 */
export function resetError(rstCode: number | undefined, cause?: Error): ConnectError | undefined {
  if (rstCode === undefined || rstCode === constants.NGHTTP2_NO_ERROR || rstCode === constants.NGHTTP2_STREAM_CLOSED) return undefined;
  const code =
    rstCode === constants.NGHTTP2_REFUSED_STREAM
      ? Code.Unavailable
      : rstCode === constants.NGHTTP2_CANCEL
        ? Code.Canceled
        : rstCode === constants.NGHTTP2_ENHANCE_YOUR_CALM
          ? Code.ResourceExhausted
          : rstCode === constants.NGHTTP2_INADEQUATE_SECURITY || rstCode === constants.NGHTTP2_HTTP_1_1_REQUIRED
            ? Code.PermissionDenied
            : Code.Internal;
  return new ConnectError(`http/2 stream closed with error code 0x${rstCode.toString(16)}`, code, undefined, undefined, cause);
}
