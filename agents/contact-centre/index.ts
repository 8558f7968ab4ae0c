import type { AgentOptions } from "../../src/sdk/index.js";
import { accountAgent, balanceAgent, billingAgent, bookingAgent, complaintAgent, refundAgent } from "./domain.js";
import { approvalAgent, authAgent, closingAgent, fallbackAgent, greetingAgent, humanDeskAgent, triageAgent } from "./front-desk.js";

export { securityCode } from "./front-desk.js";

/**
 * contactCentreAgents are the sample agents of the contact-centre flow
 * (flows/contact-centre.yaml): deterministic and rule-based, no model or
 * network needed.
 */
export const contactCentreAgents: ReadonlyArray<Pick<AgentOptions, "card" | "handler">> = [
  greetingAgent,
  authAgent,
  triageAgent,
  fallbackAgent,
  refundAgent,
  billingAgent,
  bookingAgent,
  complaintAgent,
  accountAgent,
  balanceAgent,
  approvalAgent,
  humanDeskAgent,
  closingAgent,
];
