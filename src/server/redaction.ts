import type { JsonObject } from "@bufbuild/protobuf";
import { copyMessage } from "../core/copy-message.js";
import { type SendTurnResponse, SendTurnResponseSchema } from "../gen/switchboard/v1/orchestrator_pb.js";
import { type Session, SessionSchema, type Step, StepSchema } from "../gen/switchboard/v1/session_pb.js";

/**
 * RedactionPattern finds sensitive text, e.g. a card number in a
 * transcript. `check` can reject a match (a number that fails the Luhn check).
 */
export interface RedactionPattern {
  name: string;
  regex: RegExp;
  check?: (match: string) => boolean;
}

/**
 * RedactionSettings configure what is redacted.
 */
export interface RedactionSettings {
  /** Presets by name ("card") or patterns ({ name, regex }). */
  patterns: Array<string | { name: string; regex: string }>;
  /** Keys whose values are always redacted, wherever they appear (e.g. "accountId", "account_number"). */
  fields: string[];
  /** Also redact the stored audit trail (steps), the stored transcript window and replayed results. */
  auditTrail: boolean;
}

/**
 * secretKeys are keys whose values never reach a log, configured or not.
 */
export const secretKeys = ["authorization", "password", "passwd", "secret", "token", "apikey", "api_key", "cookie", "set-cookie", "private_key"];

const digitWords: Record<string, string> = {
  zero: "0", oh: "0", o: "0", one: "1", two: "2", three: "3", four: "4",
  five: "5", six: "6", seven: "7", eight: "8", nine: "9",
};

/**
 * luhn tells whether a digit string passes the Luhn check of card numbers.
 */
export function luhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

function spokenDigits(match: string): string {
  return match
    .toLowerCase()
    .split(/[\s,.-]+/)
    .filter((w) => w !== "")
    .flatMap((w) => (/^\d+$/.test(w) ? [w] : digitWords[w] !== undefined ? [digitWords[w] as string] : []))
    .join("");
}

/**
 * presets are the built-in patterns.
 */
export const presets: Record<string, RedactionPattern> = {
  // A payment card number, typed ("4111 1111 1111 1111") or spoken ("four
  // one one one ..."), 13 to 19 digits that pass the Luhn check.
  card: {
    name: "card",
    regex: /\b(?:(?:\d|zero|oh|one|two|three|four|five|six|seven|eight|nine)(?:[\s,.-]{1,3}|(?=\d)|$)){13,19}/gi,
    check: (m) => {
      const d = spokenDigits(m);
      return d.length >= 13 && d.length <= 19 && luhn(d);
    },
  },
  // An e-mail address.
  email: { name: "email", regex: /\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b/g },
};

/**
 * compilePatterns turns configured patterns into RedactionPatterns,
 * throwing a precise error for an unknown preset or a bad regex.
 */
export function compilePatterns(patterns: RedactionSettings["patterns"]): RedactionPattern[] {
  return patterns.map((p, i) => {
    if (typeof p === "string") {
      const preset = presets[p];
      if (preset === undefined) throw new Error(`redaction.patterns[${i}]: no preset ${JSON.stringify(p)}; presets: ${Object.keys(presets).join(", ")}`);
      return preset;
    }
    try {
      return { name: p.name, regex: new RegExp(p.regex, "gi") };
    } catch (e) {
      throw new Error(`redaction.patterns[${i}] (${p.name}): ${e instanceof Error ? e.message : String(e)}`);
    }
  });
}

const maxDepth = 16;

/**
 * Redactor replaces sensitive values with `[redacted:NAME]`: text matching
 * a pattern, and the values of sensitive keys.
 */
export class Redactor {
  private readonly keys: Set<string>;

  constructor(
    private readonly patterns: RedactionPattern[],
    fields: string[],
    /** Whether stored steps and transcripts are redacted too. */
    readonly auditTrail = false,
  ) {
    this.keys = new Set([...secretKeys, ...fields].map((k) => k.toLowerCase()));
  }

  /** fromSettings builds a Redactor from the configuration. */
  static fromSettings(s: RedactionSettings): Redactor {
    return new Redactor(compilePatterns(s.patterns), s.fields, s.auditTrail);
  }

  /** isSensitiveKey tells whether a key's values are always redacted. */
  isSensitiveKey(key: string): boolean {
    return this.keys.has(key.toLowerCase());
  }

  /** text redacts the pattern matches in a string. */
  text(s: string): string {
    let out = s;
    for (const p of this.patterns) {
      p.regex.lastIndex = 0;
      out = out.replace(p.regex, (m) => {
        if (p.check !== undefined && !p.check(m)) return m;
        // Keep the separator a match may have swallowed at its end.
        const tail = /[\s,.-]+$/.exec(m)?.[0] ?? "";
        return `[redacted:${p.name}]${tail}`;
      });
    }
    return out;
  }

  /**
   * value returns a JSON-like value with sensitive keys and matching
   * strings redacted (errors become { type, message, stack }). An object or
   * array in which nothing needed redacting is returned as it is, not
   * copied: every log line passes through here, and most redact nothing.
   */
  value(v: unknown, depth = 0): unknown {
    if (typeof v === "string") return this.text(v);
    if (typeof v !== "object" || v === null) return v;
    if (depth >= maxDepth) return "[too deep]";
    if (v instanceof Error) {
      return { type: v.name, message: this.text(v.message), ...(v.stack ? { stack: this.text(v.stack) } : {}) };
    }
    if (Array.isArray(v)) {
      let out: unknown[] | undefined;
      for (let i = 0; i < v.length; i++) {
        const x: unknown = v[i];
        const r = this.value(x, depth + 1);
        if (r !== x) (out ??= v.slice())[i] = r;
      }
      return out ?? v;
    }
    if (v instanceof Uint8Array || v instanceof Date) return v;
    let out: Record<string, unknown> | undefined;
    for (const k in v) {
      if (!Object.hasOwn(v, k)) continue;
      const x: unknown = (v as Record<string, unknown>)[k];
      const r = this.isSensitiveKey(k) && x !== undefined && x !== null && x !== "" ? "[redacted]" : this.value(x, depth + 1);
      if (r !== x) (out ??= { ...v })[k] = r;
    }
    return out ?? v;
  }

  private struct(s: JsonObject | undefined): JsonObject | undefined {
    return s === undefined ? undefined : (this.value(s) as JsonObject);
  }

  private map(m: Record<string, string>): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(m)) out[k] = this.isSensitiveKey(k) ? "[redacted]" : this.text(v);
    return out;
  }

  /** step returns a redacted copy of an audit-trail step. */
  step(step: Step): Step {
    const s = copyMessage(StepSchema, step);
    if (s.input !== undefined) {
      s.input.text = this.text(s.input.text);
      s.input.metadata = this.map(s.input.metadata);
      if (s.input.event !== undefined) {
        const data = this.struct(s.input.event.data);
        if (data !== undefined) s.input.event.data = data;
      }
    }
    s.output = this.text(s.output);
    if (s.error !== undefined) s.error.message = this.text(s.error.message);
    const patch = this.struct(s.statePatch);
    if (patch !== undefined) s.statePatch = patch;
    if (s.next !== undefined) s.next.reason = this.text(s.next.reason);
    s.details = this.map(s.details);
    return s;
  }

  /**
   * session returns a session with its transcript window redacted: a copy
   * when anything needed redacting, else the session itself (a commit
   * passes through here on every turn, and a transcript rarely holds a
   * match).
   */
  session(session: Session): Session {
    const texts = session.history.map((entry) => this.text(entry.text));
    const reason = session.waiting === undefined ? "" : this.text(session.waiting.reason);
    const same = texts.every((t, i) => t === session.history[i]?.text) && (session.waiting === undefined || reason === session.waiting.reason);
    if (same) return session;
    const s = copyMessage(SessionSchema, session);
    s.history.forEach((entry, i) => (entry.text = texts[i] ?? ""));
    if (s.waiting !== undefined) s.waiting.reason = reason;
    return s;
  }

  /** turnResult returns a stored turn result redacted: a copy when anything needed redacting, else the result itself. */
  turnResult(result: SendTurnResponse): SendTurnResponse {
    const output = this.text(result.output);
    const session = result.session === undefined ? undefined : this.session(result.session);
    if (output === result.output && session === result.session) return result;
    const r = copyMessage(SendTurnResponseSchema, { ...result, session: undefined });
    r.output = output;
    if (session !== undefined) r.session = session;
    return r;
  }
}
