// Who sent an agent message, and how the live view refuses one: shared by ingest and the live view.

/** Who sent a message, from the agent's verified token (never from the message). */
export interface AgentIdentity {
  jobKey: string;
  uid: string;
  node: string;
}

/** A refused request, naming the payload field at fault. */
export class LiveError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'LiveError';
  }
}
