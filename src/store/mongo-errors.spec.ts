import { Code, ConnectError } from "@connectrpc/connect";
import { MongoNetworkError, MongoServerError, MongoWriteConcernError } from "mongodb";
import { describe, expect, it } from "vitest";
import { aborted, hasMark } from "../core/errors.js";
import { guard, isDuplicateKey, storeErrorFromMongoReason } from "./mongo-errors.js";

describe("storeErrorFromMongoReason", () => {
  it("makes an unreachable database UNAVAILABLE, saying nothing was committed", () => {
    const err = storeErrorFromMongoReason("reading the session", new MongoNetworkError("connect ECONNREFUSED"));
    expect(err.code).toBe(Code.Unavailable);
    expect(err.rawMessage).toBe(
      "the session store is unavailable (reading the session): connect ECONNREFUSED; nothing was committed, try again",
    );
    expect(hasMark(err, "store")).toBe(true);
  });

  it("makes a document above the size limit INVALID_ARGUMENT on the state", () => {
    const err = storeErrorFromMongoReason("committing the turn", new Error("object to insert too large"));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.rawMessage).toMatch(/^state: the session is too large to store \(committing the turn\)/);
  });

  it("keeps a ConnectError thrown on purpose, marked as the store's", () => {
    const conflict = aborted("changed");
    const err = storeErrorFromMongoReason("committing the turn", conflict);
    expect(err).toBe(conflict);
    expect(hasMark(err, "store")).toBe(true);
  });

  it("makes anything else INTERNAL, with the cause kept", () => {
    const cause = new MongoServerError({ message: "bad thing", code: 2 });
    const err = storeErrorFromMongoReason("listing steps", cause);
    expect(err.code).toBe(Code.Internal);
    expect(err.rawMessage).toBe("the session store failed (listing steps): bad thing");
    expect(err.cause).toBe(cause);
  });
});

describe("guard", () => {
  it("passes results through and throws mapped errors", async () => {
    await expect(guard("x", async () => 1)).resolves.toBe(1);
    const err = await guard("x", () => Promise.reject(new MongoNetworkError("gone"))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.Unavailable);
  });
});

describe("isDuplicateKey", () => {
  it("tells a unique-index violation from other server errors", () => {
    expect(isDuplicateKey(new MongoServerError({ message: "E11000", code: 11000 }))).toBe(true);
    expect(isDuplicateKey(new MongoServerError({ message: "other", code: 2 }))).toBe(false);
    expect(isDuplicateKey(new Error("E11000"))).toBe(false);
  });
});

describe("storeErrorFromMongoReason across a failover", () => {
  it("makes a write whose outcome is unknown UNAVAILABLE, saying it may have landed", () => {
    const steppedDown = new MongoServerError({ message: "Primary stepped down while waiting for replication", code: 189 });
    steppedDown.addErrorLabel("RetryableWriteError");
    const wtimeout = new MongoWriteConcernError({ ok: 1, writeConcernError: { code: 64, errmsg: "waiting for replication timed out" } });
    for (const reason of [steppedDown, wtimeout]) {
      const err = storeErrorFromMongoReason("committing the turn", reason);
      expect(err.code).toBe(Code.Unavailable);
      expect(err.rawMessage).toMatch(/^the session store's primary changed or lost its majority \(committing the turn\): .+; the write may have landed, send the turn again with the same turn id$/);
      expect(hasMark(err, "store")).toBe(true);
    }
  });
});
