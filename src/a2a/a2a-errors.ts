import { Code, ConnectError } from "@connectrpc/connect";
import { A2AError, RequestMalformedError } from "@a2a-js/sdk/errors";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";

/**
 * malformedWhenInvalid runs a validation of Switchboard's own and reports
 * what it finds wrong (INVALID_ARGUMENT, naming the field) as A2A's
 * RequestMalformed: JSON-RPC -32602, gRPC INVALID_ARGUMENT.
 */
export function malformedWhenInvalid<T>(validate: () => T): T {
  try {
    return validate();
  } catch (e) {
    if (e instanceof ConnectError && e.code === Code.InvalidArgument) throw new RequestMalformedError(e.rawMessage);
    throw e;
  }
}

/**
 * grpcCodeOfA2a is the gRPC code of each A2A error, from the protocol's
 * table of error mappings.
 */
const grpcCodeOfA2a: Record<string, Code> = {
  TASK_NOT_FOUND: Code.NotFound,
  TASK_NOT_CANCELABLE: Code.FailedPrecondition,
  PUSH_NOTIFICATION_NOT_SUPPORTED: Code.FailedPrecondition,
  UNSUPPORTED_OPERATION: Code.FailedPrecondition,
  CONTENT_TYPE_NOT_SUPPORTED: Code.InvalidArgument,
  INVALID_AGENT_RESPONSE: Code.Internal,
  EXTENDED_AGENT_CARD_NOT_CONFIGURED: Code.FailedPrecondition,
  EXTENSION_SUPPORT_REQUIRED: Code.FailedPrecondition,
  VERSION_NOT_SUPPORTED: Code.FailedPrecondition,
  INVALID_PARAMS: Code.InvalidArgument,
  INVALID_REQUEST: Code.InvalidArgument,
  METHOD_NOT_FOUND: Code.NotFound,
  INTERNAL_ERROR: Code.Internal,
};

/**
 * connectErrorOf turns what an A2A handler threw into the gRPC binding's
 * error: an A2A error keeps its gRPC code with a google.rpc.ErrorInfo
 * detail naming the A2A reason (how A2A clients tell the errors apart); a
 * Switchboard error keeps its code and message.
 */
export function connectErrorOf(e: unknown): ConnectError {
  if (e instanceof A2AError) {
    const info = e.toErrorInfo();
    const err = new ConnectError(e.message, grpcCodeOfA2a[info.reason] ?? Code.Internal);
    err.details.push({ type: "google.rpc.ErrorInfo", value: errorInfoBytes(info.reason, info.domain, info.metadata ?? {}) });
    return err;
  }
  return ConnectError.from(e);
}

/**
 * errorInfoBytes encodes a google.rpc.ErrorInfo: reason (1), domain (2),
 * metadata (3, a map of strings). Written with the wire writer: it is the
 * only message of google/rpc we send, not worth a generated copy of it.
 */
function errorInfoBytes(reason: string, domain: string, metadata: Record<string, string>): Uint8Array {
  const w = new BinaryWriter();
  w.tag(1, WireType.LengthDelimited).string(reason);
  w.tag(2, WireType.LengthDelimited).string(domain);
  for (const [k, v] of Object.entries(metadata)) {
    w.tag(3, WireType.LengthDelimited).fork().tag(1, WireType.LengthDelimited).string(k).tag(2, WireType.LengthDelimited).string(v).join();
  }
  return w.finish();
}
