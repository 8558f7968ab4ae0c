import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * toolsDir holds binaries the test setup builds (gitignored, kept between runs).
 */
export const toolsDir = fileURLToPath(new URL("../../.cache/bin", import.meta.url));

/**
 * grpcurlVersion is the grpcurl the tests install when none is on PATH.
 */
export const grpcurlVersion = "v1.9.3";

function onPath(name: string): string | undefined {
  for (const dir of (process.env["PATH"] ?? "").split(":")) {
    const candidate = join(dir, name);
    if (dir !== "" && existsSync(candidate)) return candidate;
  }
  return undefined;
}

/**
 * ensureGrpcurl returns the path of a grpcurl binary, building it with
 * `go install` into .cache/bin when there is none.
 */
export function ensureGrpcurl(): string {
  const cached = join(toolsDir, "grpcurl");
  if (existsSync(cached)) return cached;
  const found = onPath("grpcurl");
  if (found !== undefined) return found;
  mkdirSync(toolsDir, { recursive: true });
  try {
    execFileSync("go", ["install", `github.com/fullstorydev/grpcurl/cmd/grpcurl@${grpcurlVersion}`], {
      env: { ...process.env, GOBIN: toolsDir },
      stdio: ["ignore", "inherit", "inherit"],
      timeout: 600_000,
    });
  } catch (e) {
    throw new Error(
      `could not build grpcurl with 'go install' (${e instanceof Error ? e.message : String(e)}); ` +
        `install Go, or put a grpcurl binary on PATH, and run the tests again`,
    );
  }
  return cached;
}

/**
 * ensureDebianPackage returns the path of the first of `binaries` found on
 * PATH or at an absolute path given among them, installing Debian's
 * package `pkg` with apt-get when there is none (as root, as CI runs;
 * otherwise through `sudo -n`).
 */
export function ensureDebianPackage(pkg: string, binaries: string[]): string {
  const installed = () => {
    for (const b of binaries) {
      const found = b.startsWith("/") ? (existsSync(b) ? b : undefined) : onPath(b);
      if (found !== undefined) return found;
    }
    return undefined;
  };
  const found = installed();
  if (found !== undefined) return found;
  const root = process.getuid?.() === 0;
  const aptGet = (args: string[]) =>
    execFileSync(root ? "apt-get" : "sudo", root ? args : ["-n", "apt-get", ...args], {
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
      stdio: ["ignore", "inherit", "inherit"],
      timeout: 600_000,
    });
  try {
    aptGet(["update"]);
    aptGet(["install", "-y", "--no-install-recommends", pkg]);
  } catch (e) {
    throw new Error(
      `could not install ${pkg} with apt-get (${e instanceof Error ? e.message : String(e)}); ` +
        `install it (apt-get install ${pkg}) or put ${binaries[0]} on PATH, and run the tests again`,
    );
  }
  const after = installed();
  if (after === undefined) throw new Error(`apt-get installed ${pkg}, but none of ${binaries.join(", ")} was found`);
  return after;
}

/**
 * ensureHaproxy returns the path of haproxy, installing Debian's package
 * when there is none.
 */
export function ensureHaproxy(): string {
  return ensureDebianPackage("haproxy", ["haproxy", "/usr/sbin/haproxy", "/usr/local/sbin/haproxy"]);
}

/**
 * chromiumPath is where Debian's chromium package puts the browser the
 * console's tests drive.
 */
export const chromiumPath = "/usr/bin/chromium";

/**
 * ensureChromium returns /usr/bin/chromium, installing Debian's chromium
 * package when it is missing.
 */
export function ensureChromium(): string {
  return ensureDebianPackage("chromium", [chromiumPath]);
}

/**
 * ensureA2aPython returns the Python interpreter of .cache/a2a-venv, the
 * environment with the official A2A SDK (a2a-sdk) that the A2A tests use as
 * an independent implementation of the protocol, making it first with
 * scripts/a2a-python-setup.sh (which does nothing when it is current).
 */
export function ensureA2aPython(): string {
  const script = fileURLToPath(new URL("../../scripts/a2a-python-setup.sh", import.meta.url));
  try {
    execFileSync("bash", [script], { stdio: ["ignore", "inherit", "inherit"], timeout: 600_000 });
  } catch (e) {
    throw new Error(
      `could not make the A2A SDK's Python environment (${e instanceof Error ? e.message : String(e)}); ` +
        `install Python 3.10 or newer with pip and venv, check that PyPI is reachable, and run the tests again`,
    );
  }
  return fileURLToPath(new URL("../../.cache/a2a-venv/bin/python", import.meta.url));
}
