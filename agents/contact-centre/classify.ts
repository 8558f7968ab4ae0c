/**
 * domains are the requests the contact centre's domain agents handle; each
 * is both an intent and the name of the agent that serves it.
 */
export const domains = ["refund", "billing", "booking", "complaint", "account", "balance"] as const;

/**
 * Domain is one of the domains.
 */
export type Domain = (typeof domains)[number];

const rules: Array<[Domain, RegExp]> = [
  ["refund", /\b(refund|money back|reimburse)/i],
  ["booking", /\b(book|appointment|reserv)/i],
  ["complaint", /\b(complain|unhappy|terrible|awful)/i],
  ["billing", /\b(bill|invoice)/i],
  ["balance", /\b(balance|how much (do )?i owe)/i],
  ["account", /\b(account|my plan|address)/i],
];

/**
 * classify recognises a caller's request by keywords: deterministic, no
 * model or network. It returns "" when nothing matches.
 */
export function classify(text: string): Domain | "" {
  for (const [domain, rule] of rules) if (rule.test(text)) return domain;
  return "";
}

/**
 * menu is what the agents say when they do not recognise a request.
 */
export const menu = "I can help with a refund, your bill, a booking, a complaint, your account or your balance. What would you like to do?";

/**
 * amountOf finds the first amount of money in a text, e.g. "40" or "250.50".
 */
export function amountOf(text: string): number | undefined {
  const m = /(\d+(?:\.\d{1,2})?)/.exec(text.replace(/\border\s+[A-Z0-9-]+/gi, ""));
  return m ? Number(m[1]) : undefined;
}

/**
 * money formats an amount with two decimals.
 */
export function money(n: number): string {
  return n.toFixed(2);
}
