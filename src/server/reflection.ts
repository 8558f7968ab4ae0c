import {
  create,
  createFileRegistry,
  type DescFile,
  fromBinary,
  type FileRegistry,
  toBinary,
} from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { Code, type ServiceImpl } from "@connectrpc/connect";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  ServerReflection as ServerReflectionV1,
  type ServerReflectionRequest,
  type ServerReflectionResponse,
  ServerReflectionRequestSchema,
  ServerReflectionResponseSchema,
} from "../gen/grpc/reflection/v1/reflection_pb.js";
import {
  ServerReflection as ServerReflectionV1alpha,
  ServerReflectionRequestSchema as RequestV1alphaSchema,
  ServerReflectionResponseSchema as ResponseV1alphaSchema,
} from "../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { packageDir } from "../package-dir.js";

/**
 * descriptorSetPath is the FileDescriptorSet `npm run generate` builds from
 * proto/ with `buf build`. Unlike the descriptors embedded in generated
 * code, it keeps the .proto comments, which grpcurl `describe` shows. It
 * lies beside the generated code it describes: the sources' src/gen, which
 * the repository's build does not copy (its compiled code reads it from
 * there), or the compiled gen/ of the agent SDK's package, which ships it.
 */
const besideCode = fileURLToPath(new URL("../gen/switchboard.binpb", import.meta.url));
const descriptorSetPath = existsSync(besideCode) ? besideCode : join(packageDir, "src/gen/switchboard.binpb");

let cached: FileRegistry | undefined;

/**
 * protoRegistry returns every file of Switchboard's contracts, with their
 * imports and comments.
 */
export function protoRegistry(): FileRegistry {
  cached ??= createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(descriptorSetPath)));
  return cached;
}

/**
 * Reflector answers server reflection requests for a fixed list of services.
 */
export class Reflector {
  constructor(
    private readonly services: readonly string[],
    private readonly registry: FileRegistry = protoRegistry(),
  ) {}

  /**
   * answer answers one request; `sent` holds the files already sent on this
   * stream, which the protocol allows the server to skip.
   */
  answer(req: ServerReflectionRequest, sent: Set<string>): ServerReflectionResponse {
    const base = { validHost: req.host, originalRequest: req };
    const error = (code: Code, message: string) =>
      create(ServerReflectionResponseSchema, {
        ...base,
        messageResponse: { case: "errorResponse", value: { errorCode: code, errorMessage: message } },
      });
    const files = (file: DescFile | undefined, what: string) =>
      file === undefined
        ? error(Code.NotFound, `${what} not found`)
        : create(ServerReflectionResponseSchema, {
            ...base,
            messageResponse: {
              case: "fileDescriptorResponse",
              value: { fileDescriptorProto: this.withDependencies(file, sent) },
            },
          });
    const r = req.messageRequest;
    switch (r.case) {
      case "listServices":
        return create(ServerReflectionResponseSchema, {
          ...base,
          messageResponse: {
            case: "listServicesResponse",
            value: { service: this.services.map((name) => ({ name })) },
          },
        });
      case "fileByFilename":
        return files(this.registry.getFile(r.value), `file ${r.value}`);
      case "fileContainingSymbol":
        return files(this.fileOfSymbol(r.value), `symbol ${r.value}`);
      case "fileContainingExtension": {
        const extendee = this.registry.getMessage(r.value.containingType);
        const ext = extendee && this.registry.getExtensionFor(extendee, r.value.extensionNumber);
        return files(ext?.file, `extension ${r.value.extensionNumber} of ${r.value.containingType}`);
      }
      case "allExtensionNumbersOfType": {
        const message = this.registry.getMessage(r.value);
        if (message === undefined) return error(Code.NotFound, `type ${r.value} not found`);
        const numbers: number[] = [];
        for (const type of this.registry) {
          if (type.kind === "extension" && type.extendee.typeName === r.value) numbers.push(type.number);
        }
        return create(ServerReflectionResponseSchema, {
          ...base,
          messageResponse: {
            case: "allExtensionNumbersResponse",
            value: { baseTypeName: r.value, extensionNumber: numbers },
          },
        });
      }
      default:
        return error(Code.InvalidArgument, "the request names no question");
    }
  }

  /**
   * fileOfSymbol finds the file declaring a type, service, method, field or
   * enum value by its fully qualified name.
   */
  private fileOfSymbol(symbol: string): DescFile | undefined {
    let name = symbol.replace(/^\./, "");
    for (let i = 0; i < 2 && name !== ""; i++) {
      const desc = this.registry.get(name);
      if (desc !== undefined) return desc.file;
      name = name.slice(0, Math.max(0, name.lastIndexOf(".")));
    }
    return undefined;
  }

  private withDependencies(file: DescFile, sent: Set<string>): Uint8Array[] {
    // The requested file always comes back; only its dependencies already
    // sent on this stream are skipped.
    const out: Uint8Array[] = [];
    const visit = (f: DescFile) => {
      if (sent.has(f.name) && f !== file) return;
      sent.add(f.name);
      out.push(toBinary(FileDescriptorProtoSchema, f.proto));
      f.dependencies.forEach(visit);
    };
    visit(file);
    return out;
  }
}

/**
 * reflectionServices implements grpc.reflection.v1 and v1alpha (the same
 * wire format; grpcurl and older tools still ask v1alpha).
 */
export function reflectionServices(reflector: Reflector): {
  v1: ServiceImpl<typeof ServerReflectionV1>;
  v1alpha: ServiceImpl<typeof ServerReflectionV1alpha>;
} {
  return {
    v1: {
      async *serverReflectionInfo(requests) {
        const sent = new Set<string>();
        for await (const req of requests) yield reflector.answer(req, sent);
      },
    },
    v1alpha: {
      async *serverReflectionInfo(requests) {
        const sent = new Set<string>();
        for await (const req of requests) {
          const asV1 = fromBinary(ServerReflectionRequestSchema, toBinary(RequestV1alphaSchema, req));
          const answer = reflector.answer(asV1, sent);
          yield fromBinary(ResponseV1alphaSchema, toBinary(ServerReflectionResponseSchema, answer));
        }
      },
    },
  };
}
