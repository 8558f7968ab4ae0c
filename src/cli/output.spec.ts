import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { exitWhenPipeCloses } from "./output.js";

const failure = (code: string) => Object.assign(new Error(`write ${code}`), { code });

describe("exitWhenPipeCloses", () => {
  it("ends with status 0 when stdout's reader goes away, and only then", () => {
    const out = new PassThrough();
    const err = new PassThrough();
    const exits: number[] = [];
    exitWhenPipeCloses(out, err, (code) => exits.push(code));
    out.emit("error", failure("EPIPE"));
    expect(exits).toEqual([0]);
    expect(() => out.emit("error", failure("ENOSPC"))).toThrow("write ENOSPC");
    expect(exits).toEqual([0]);
  });

  it("lets the command finish when stderr's reader goes away", () => {
    const out = new PassThrough();
    const err = new PassThrough();
    const exits: number[] = [];
    exitWhenPipeCloses(out, err, (code) => exits.push(code));
    err.emit("error", failure("EPIPE"));
    expect(exits).toEqual([]);
    expect(() => err.emit("error", failure("EIO"))).toThrow("write EIO");
  });
});
