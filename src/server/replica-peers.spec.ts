import { describe, expect, it } from "vitest";
import { advertisedUrl } from "./replica-peers.js";

describe("advertisedUrl", () => {
  it("takes a URL as given, without a trailing slash", () => {
    expect(advertisedUrl("https://sb-1.example:8443/", "0.0.0.0", 50051, false)).toBe("https://sb-1.example:8443");
    expect(advertisedUrl("http://10.0.0.7", "0.0.0.0", 50051, false)).toBe("http://10.0.0.7");
  });

  it("gives a host the server's scheme and, without a port, its listen port", () => {
    expect(advertisedUrl("10.0.0.7", "0.0.0.0", 50051, false)).toBe("http://10.0.0.7:50051");
    expect(advertisedUrl("10.0.0.7:9000", "0.0.0.0", 50051, true)).toBe("https://10.0.0.7:9000");
    expect(advertisedUrl("fd00::7", "::", 50051, false)).toBe("http://[fd00::7]:50051");
    expect(advertisedUrl("[fd00::7]:9000", "::", 50051, false)).toBe("http://[fd00::7]:9000");
  });

  it("uses a specific listen address when nothing is advertised, and none for a wildcard", () => {
    expect(advertisedUrl("", "127.0.0.1", 4000, false)).toBe("http://127.0.0.1:4000");
    expect(advertisedUrl("", "::1", 4000, true)).toBe("https://[::1]:4000");
    expect(advertisedUrl("", "0.0.0.0", 4000, false)).toBeUndefined();
    expect(advertisedUrl("", "::", 4000, false)).toBeUndefined();
  });

  it("refuses what is not a server's address, saying what to give", () => {
    expect(() => advertisedUrl("ftp://x", "0.0.0.0", 1, false)).toThrow(/scheme must be http or https/);
    expect(() => advertisedUrl("http://x/api", "0.0.0.0", 1, false)).toThrow(/without a path/);
    expect(() => advertisedUrl("http://", "0.0.0.0", 1, false)).toThrow(/not an address/);
  });
});
