import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "./process.js";

/**
 * docFiles lists the documentation the tests hold to its word: README.md
 * and every page of docs/, as paths relative to the repository's top.
 */
export function docFiles(): string[] {
  const pages = readdirSync(join(repoRoot, "docs"))
    .filter((f) => f.endsWith(".md"))
    .sort()
    .map((f) => `docs/${f}`);
  return ["README.md", ...pages];
}

/**
 * readDoc returns the text of a documentation file, given its path relative
 * to the repository's top.
 */
export function readDoc(path: string): string {
  return readFileSync(join(repoRoot, path), "utf8");
}

/**
 * docSection returns the part of a Markdown text that starts at the heading
 * line `heading` (e.g. "## The contact-centre flow") and ends before the
 * next heading of the same or a higher level. It throws when the heading is
 * missing, so a renamed section fails its test instead of running nothing.
 */
export function docSection(text: string, heading: string): string {
  const start = text.split("\n").findIndex((l) => l === heading);
  if (start < 0) throw new Error(`no heading "${heading}"`);
  const level = heading.indexOf(" ");
  const lines = text.split("\n").slice(start);
  const end = lines.findIndex((l, i) => i > 0 && /^#{1,6} /.test(l) && l.indexOf(" ") <= level && !inFence(lines, i));
  return lines.slice(0, end < 0 ? undefined : end).join("\n");
}

/**
 * ShellCommand is one line of a ```sh block of the documentation.
 */
export interface ShellCommand {
  /** The file it is in, relative to the repository's top. */
  readonly file: string;
  /** The nearest heading above it. */
  readonly heading: string;
  /** The line as written. */
  readonly command: string;
}

/**
 * shellCommands returns every non-empty line of every ```sh block in the
 * documentation. Plain ``` blocks are samples of what a terminal shows
 * (commands in them start with `$ `) and are not commands to run.
 */
export function shellCommands(): ShellCommand[] {
  const found: ShellCommand[] = [];
  for (const file of docFiles()) {
    const lines = readDoc(file).split("\n");
    let heading = "";
    let fence: string | undefined;
    for (const line of lines) {
      if (fence === undefined && /^#{1,6} /.test(line)) heading = line;
      if (line.startsWith("```")) {
        fence = fence === undefined ? line.slice(3).trim() : undefined;
        continue;
      }
      if (fence === "sh" && line.trim() !== "") found.push({ file, heading, command: line });
    }
  }
  return found;
}

// A "# comment" line inside a code block is not a heading.
function inFence(lines: string[], index: number): boolean {
  let open = false;
  for (let i = 0; i < index; i++) if (lines[i]?.startsWith("```")) open = !open;
  return open;
}
