import { existsSync, statSync } from "node:fs";
import { dirname, join, normalize } from "node:path";
import { describe, expect, it } from "vitest";
import { docFiles, readDoc } from "./support/docs.js";
import { repoRoot } from "./support/process.js";

/**
 * headingAnchors returns the anchors GitHub gives a Markdown file's
 * headings: lower case, punctuation other than `-` and `_` dropped, spaces
 * as `-`, and `-1`, `-2` ... for repeats. Lines inside code blocks are not
 * headings.
 */
function headingAnchors(text: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let inFence = false;
  for (const line of text.split("\n")) {
    if (line.startsWith("```")) inFence = !inFence;
    const m = inFence ? null : /^#{1,6} (.*)$/.exec(line);
    if (m === null) continue;
    const base = (m[1] ?? "")
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, "")
      .replace(/\s/g, "-");
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

/**
 * relativeLinks returns the targets of the inline Markdown links of a text
 * that stay in the repository (no scheme, no `mailto:`), outside code.
 */
function relativeLinks(text: string): string[] {
  const prose = text.replace(/```[\s\S]*?```/g, "").replace(/`[^`\n]*`/g, "");
  return [...prose.matchAll(/\]\(([^)\s]+)\)/g)]
    .map((m) => m[1] ?? "")
    .filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target));
}

/**
 * Every link between the README, the docs/ pages and the rest of the
 * repository leads somewhere: the file exists and, for `#anchor` links into
 * Markdown, so does the heading.
 */
describe("documentation links", () => {
  const files = docFiles();

  it("covers the README and the docs/ pages", () => {
    expect(files).toContain("README.md");
    expect(files).toContain("docs/operations.md");
    expect(files).toContain("docs/architecture.md");
  });

  it.each(files)("%s: every relative link points to an existing file and heading", (file) => {
    const links = relativeLinks(readDoc(file));
    const broken: string[] = [];
    for (const link of links) {
      const [path = "", anchor] = link.split("#", 2);
      const target = path === "" ? file : normalize(join(dirname(file), decodeURIComponent(path)));
      if (target.startsWith("..") || !existsSync(join(repoRoot, target))) {
        broken.push(`${link}: no file ${target}`);
        continue;
      }
      if (anchor === undefined) continue;
      if (!target.endsWith(".md") || statSync(join(repoRoot, target)).isDirectory()) {
        broken.push(`${link}: an anchor into a file that is not Markdown`);
        continue;
      }
      if (!headingAnchors(readDoc(target)).has(anchor)) broken.push(`${link}: no heading #${anchor} in ${target}`);
    }
    expect(broken).toEqual([]);
  });

  it("reaches every docs/ page from the README", () => {
    const fromReadme = new Set(relativeLinks(readDoc("README.md")).map((l) => l.split("#")[0]));
    expect(files.filter((f) => f !== "README.md" && !fromReadme.has(f))).toEqual([]);
  });
});
