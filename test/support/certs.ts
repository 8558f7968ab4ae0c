import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Issued is a certificate with its key, as PEM, and the files holding them.
 */
export interface Issued {
  cert: string;
  key: string;
  certFile: string;
  keyFile: string;
}

/**
 * TestCa is a throw-away certificate authority made with openssl.
 */
export class TestCa {
  readonly cert: string;
  readonly certFile: string;
  private readonly keyFile: string;
  private serial = 1;

  private constructor(private readonly dir: string, readonly name: string) {
    this.keyFile = join(dir, `${name}.key`);
    this.certFile = join(dir, `${name}.crt`);
    openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
      "-keyout", this.keyFile, "-out", this.certFile, "-days", "2", "-subj", `/CN=${name}`]);
    this.cert = readFileSync(this.certFile, "utf8");
  }

  /** create makes a CA in a new temporary directory. */
  static create(name: string, dir = mkdtempSync(join(tmpdir(), "switchboard-certs-"))): TestCa {
    return new TestCa(dir, name);
  }

  /** another makes a second, unrelated CA in the same directory. */
  another(name: string): TestCa {
    return new TestCa(this.dir, name);
  }

  /**
   * issue signs a certificate for a server (valid for 127.0.0.1 and
   * localhost) or a client.
   */
  issue(name: string, usage: "server" | "client"): Issued {
    const keyFile = join(this.dir, `${name}.key`);
    const csr = join(this.dir, `${name}.csr`);
    const certFile = join(this.dir, `${name}.crt`);
    const ext = join(this.dir, `${name}.ext`);
    writeFileSync(
      ext,
      usage === "server"
        ? "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n"
        : "extendedKeyUsage=clientAuth\n",
    );
    openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", keyFile, "-out", csr, "-subj", `/CN=${name}`]);
    openssl(["x509", "-req", "-in", csr, "-CA", this.certFile, "-CAkey", this.keyFile, "-set_serial", String(this.serial++),
      "-out", certFile, "-days", "2", "-extfile", ext]);
    return { cert: readFileSync(certFile, "utf8"), key: readFileSync(keyFile, "utf8"), certFile, keyFile };
  }

  /** remove deletes the directory with every certificate. */
  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function openssl(args: string[]): void {
  execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
}
