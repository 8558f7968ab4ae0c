import type { CaseResult } from "./case-run.js";
import { type CoverageReport, coverageKinds } from "./flow-coverage.js";
import type { SuiteResult } from "./test-suite.js";

/**
 * caseLines renders one case's result: one line, and for a failure the
 * turn and the first mismatch as expected vs actual.
 */
export function caseLines(r: CaseResult): string[] {
  const head = `${r.mismatch ? "FAIL" : "ok  "} ${r.case.name} (${r.case.turns.length} turn${r.case.turns.length === 1 ? "" : "s"}, ${r.flow}, ${r.ms.toFixed(0)} ms)`;
  const m = r.mismatch;
  if (m === undefined) return [head];
  return [head, `       turn ${m.turn} (${r.case.file}:${m.line}): ${m.what}`, `         expected: ${m.expected}`, `         actual:   ${m.actual}`];
}

/**
 * coverageLines renders what the cases exercised of each flow version, and
 * names what they never did.
 */
export function coverageLines(reports: readonly CoverageReport[]): string[] {
  const lines: string[] = [];
  for (const report of reports) {
    lines.push(`coverage of ${report.flow}:`);
    for (const [kind, verb] of coverageKinds) {
      const items = report.sections[kind];
      const hit = items.filter((i) => i.hits > 0).length;
      const pct = items.length === 0 ? 100 : Math.floor((100 * hit) / items.length);
      lines.push(`  ${kind.padEnd(12)}${`${hit}/${items.length}`.padStart(7)} ${verb} (${pct}%)`);
      for (const item of items) if (item.hits === 0) lines.push(`      never ${verb}: ${item.label}`);
    }
  }
  return lines;
}

/**
 * suiteText renders a suite's run as `switchboard test` prints it.
 */
export function suiteText(s: SuiteResult, opts: { coverage: boolean }): string {
  const lines: string[] = [];
  let file = "";
  for (const r of s.results) {
    if (r.case.file !== file) lines.push((file = r.case.file));
    lines.push(...caseLines(r).map((l) => `  ${l}`));
  }
  const failed = s.results.filter((r) => r.mismatch).length;
  lines.push("", `${s.results.length} case${s.results.length === 1 ? "" : "s"}: ${s.results.length - failed} passed, ${failed} failed (${(s.ms / 1000).toFixed(2)} s)`);
  if (opts.coverage) lines.push("", ...coverageLines(s.coverage));
  return `${lines.join("\n")}\n`;
}

/**
 * suiteJson is a suite's run as JSON: every case with its result, and the
 * coverage of each flow version item by item.
 */
export function suiteJson(s: SuiteResult): unknown {
  const failed = s.results.filter((r) => r.mismatch).length;
  return {
    passed: s.results.length - failed,
    failed,
    ms: Math.round(s.ms),
    cases: s.results.map((r) => ({
      file: r.case.file,
      line: r.case.line,
      name: r.case.name,
      flow: r.flow,
      passed: r.mismatch === undefined,
      ms: Math.round(r.ms),
      ...(r.mismatch ? { mismatch: r.mismatch } : {}),
    })),
    coverage: s.coverage,
  };
}

/**
 * junitXml renders a suite's run in the JUnit XML format CI systems read:
 * one testsuite per case file, one testcase per case, a failure element
 * with the first mismatch.
 */
export function junitXml(s: SuiteResult): string {
  const byFile = new Map<string, CaseResult[]>();
  for (const r of s.results) byFile.set(r.case.file, [...(byFile.get(r.case.file) ?? []), r]);
  const failed = s.results.filter((r) => r.mismatch).length;
  const out = [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<testsuites name="switchboard test" tests="${s.results.length}" failures="${failed}" errors="0" time="${secs(s.ms)}">`,
  ];
  for (const [file, results] of byFile) {
    const f = results.filter((r) => r.mismatch).length;
    const ms = results.reduce((sum, r) => sum + r.ms, 0);
    out.push(`  <testsuite name="${xml(file)}" tests="${results.length}" failures="${f}" errors="0" skipped="0" time="${secs(ms)}">`);
    for (const r of results) {
      const open = `    <testcase classname="${xml(r.flow)}" name="${xml(r.case.name)}" file="${xml(file)}" line="${r.case.line}" time="${secs(r.ms)}"`;
      const m = r.mismatch;
      if (m === undefined) {
        out.push(`${open}/>`);
        continue;
      }
      out.push(`${open}>`);
      out.push(`      <failure message="${xml(`turn ${m.turn}: ${m.what}: expected ${m.expected}, actual ${m.actual}`)}" type="${xml(m.what)}">${xml(caseLines(r).slice(1).join("\n"))}</failure>`);
      out.push(`    </testcase>`);
    }
    out.push(`  </testsuite>`);
  }
  out.push(`</testsuites>`);
  return `${out.join("\n")}\n`;
}

function secs(ms: number): string {
  return (ms / 1000).toFixed(3);
}

/**
 * xml escapes text for an XML attribute or element, dropping the control
 * characters XML 1.0 cannot hold at all.
 */
function xml(s: string): string {
  return s
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, "")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");
}
