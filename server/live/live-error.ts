// Who sent an agent message, and how the live view refuses one: shared by ingest and the live view.

export type { AgentIdentity } from '@mei/contracts';

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
