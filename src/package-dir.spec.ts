import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { findPackageDir, packageDir } from "./package-dir.js";

describe("packageDir", () => {
  it("is the directory of Switchboard's package.json", () => {
    const pkg = JSON.parse(readFileSync(join(packageDir, "package.json"), "utf8")) as { name: string };
    expect(pkg.name).toBe("switchboard");
  });

  it("is found the same from the sources and from the compiled tree under dist/", () => {
    const top = mkdtempSync(join(tmpdir(), "switchboard-package-dir-"));
    try {
      writeFileSync(join(top, "package.json"), "{}");
      for (const d of ["src", "dist/src"]) mkdirSync(join(top, d), { recursive: true });
      expect(findPackageDir(join(top, "src"))).toBe(top);
      expect(findPackageDir(join(top, "dist/src"))).toBe(top);
    } finally {
      rmSync(top, { recursive: true, force: true });
    }
  });
});
