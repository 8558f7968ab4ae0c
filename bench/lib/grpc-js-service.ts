import { type DescMessage, type DescService, fromBinary, type MessageShape, toBinary } from "@bufbuild/protobuf";
import type { MethodDefinition, ServiceDefinition } from "@grpc/grpc-js";

/**
 * grpcJsService turns a protobuf-es service into a grpc-js ServiceDefinition
 * (for `server.addService` and `makeGenericClientConstructor`), with
 * protobuf-es doing the (de)serialisation: no proto-loader, no .proto files
 * at run time.
 */
export function grpcJsService(service: DescService): ServiceDefinition {
  const def: Record<string, MethodDefinition<unknown, unknown>> = {};
  for (const m of service.methods) {
    const codec = <T extends DescMessage>(schema: T) => ({
      serialize: (v: MessageShape<T>) => Buffer.from(toBinary(schema, v)),
      deserialize: (b: Buffer) => fromBinary(schema, b),
    });
    const input = codec(m.input);
    const output = codec(m.output);
    def[m.localName] = {
      path: `/${service.typeName}/${m.name}`,
      originalName: m.name,
      requestStream: m.methodKind === "client_streaming" || m.methodKind === "bidi_streaming",
      responseStream: m.methodKind === "server_streaming" || m.methodKind === "bidi_streaming",
      requestSerialize: input.serialize as (v: unknown) => Buffer,
      requestDeserialize: input.deserialize,
      responseSerialize: output.serialize as (v: unknown) => Buffer,
      responseDeserialize: output.deserialize,
    };
  }
  return def;
}
