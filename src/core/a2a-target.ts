/**
 * a2aPrefix starts an agent name that names an A2A agent by the URL of its
 * Agent Card instead of a Switchboard agent by its registered name, e.g.
 * `a2a:https://weather.example.com/.well-known/agent-card.json`.
 */
export const a2aPrefix = "a2a:";

/**
 * a2aCardUrl returns the card URL an agent name holds, or undefined when the
 * name is a Switchboard agent's (no `a2a:` prefix). It does not check the URL;
 * a2aTargetProblem does.
 */
export function a2aCardUrl(agent: string): string | undefined {
  return agent.startsWith(a2aPrefix) ? agent.slice(a2aPrefix.length) : undefined;
}

/**
 * a2aTargetProblem says what is wrong with an `a2a:` agent name, or returns
 * undefined when it is usable (or not an A2A name at all): the rest must be
 * an absolute http or https URL without credentials or a fragment. Only the
 * form is checked here; the card itself is read when the agent is first
 * called, because the agent may well be down while a flow loads.
 */
export function a2aTargetProblem(agent: string): string | undefined {
  const card = a2aCardUrl(agent);
  if (card === undefined) return undefined;
  const example = `e.g. "${a2aPrefix}https://agent.example.com/.well-known/agent-card.json"`;
  let url: URL;
  try {
    url = new URL(card);
  } catch {
    return `${JSON.stringify(agent.slice(0, 120))} names an A2A agent, but ${JSON.stringify(card.slice(0, 100))} is not a URL; give its Agent Card's URL, ${example}`;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return `${JSON.stringify(agent.slice(0, 120))}: an A2A agent's card URL must start with http:// or https://, ${example}`;
  }
  if (url.username !== "" || url.password !== "" || url.hash !== "") {
    return `${JSON.stringify(agent.slice(0, 120))}: an A2A agent's card URL must not carry credentials or a fragment`;
  }
  return undefined;
}
