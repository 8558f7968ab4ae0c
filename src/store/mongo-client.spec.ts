import { describe, expect, it } from "vitest";
import { databaseNameOf, mongoClientOf, storeConcerns } from "./mongo-client.js";

describe("mongoClientOf", () => {
  it("applies the store's concerns, over whatever the connection string says", () => {
    const uri = "mongodb://127.0.0.1:1/db?w=1&journal=false&readConcernLevel=local&readPreference=secondary&retryWrites=false&retryReads=false";
    const { options } = mongoClientOf(uri, undefined, "spec");
    expect({ w: options.writeConcern?.w, journal: options.writeConcern?.journal, wtimeoutMS: options.writeConcern?.wtimeoutMS }).toEqual(
      storeConcerns.writeConcern,
    );
    expect(options.readConcern?.level).toBe("majority");
    expect(options.readPreference.mode).toBe("primary");
    expect(options.retryWrites).toBe(true);
    expect(options.retryReads).toBe(true);
  });

  it("monitors commands only when asked to", () => {
    expect(mongoClientOf("mongodb://127.0.0.1:1/", undefined, "spec").options.monitorCommands).toBe(false);
    const monitored = mongoClientOf("mongodb://127.0.0.1:1/", undefined, "spec", () => undefined);
    expect(monitored.options.monitorCommands).toBe(true);
    expect(monitored.listenerCount("commandStarted")).toBe(1);
  });
});

describe("databaseNameOf", () => {
  it("takes the given database, else the connection string's, else switchboard", () => {
    expect(databaseNameOf("mongodb://h/x", "y")).toBe("y");
    expect(databaseNameOf("mongodb://h/x?w=1", undefined)).toBe("x");
    expect(databaseNameOf("mongodb://h/", undefined)).toBe("switchboard");
  });
});
