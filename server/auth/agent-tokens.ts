// Per-worker agent credentials: signed claims {jobKey, uid, node, iat}. A valid signature is not enough:
// the job must still exist as the same object (uid) and still list the node, so a token dies with its job.
import { jobNodes, parseJobKey, type AgentIdentity, type MultiEdgeInference } from '@mei/contracts';
import { deriveKey, signClaims, verifyClaims } from './signing.ts';

export interface AgentClaims extends AgentIdentity {
  /** Issued at, seconds since the epoch. */
  iat: number;
}

export class AgentAuthError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'AgentAuthError';
  }
}

export class AgentTokens {
  private readonly key: Buffer;
  constructor(
    secret: Buffer,
    private readonly now: () => number = Date.now,
  ) {
    this.key = deriveKey(secret, 'agent-token');
  }

  mint(claims: Omit<AgentClaims, 'iat'>): string {
    const full: AgentClaims = { jobKey: claims.jobKey, uid: claims.uid, node: claims.node, iat: Math.floor(this.now() / 1000) };
    return signClaims(this.key, full);
  }

  /** Signature and shape only; see authenticate() for the full check. */
  verify(token: unknown): AgentClaims {
    const c = verifyClaims(this.key, token);
    if (!c) throw new AgentAuthError('invalid token');
    const { jobKey, uid, node, iat } = c;
    if (typeof jobKey !== 'string' || typeof uid !== 'string' || typeof node !== 'string' || typeof iat !== 'number') throw new AgentAuthError('malformed token');
    return { jobKey, uid, node, iat };
  }

  async authenticate(token: unknown, getJob: (namespace: string, name: string) => Promise<MultiEdgeInference | undefined>): Promise<AgentClaims> {
    const claims = this.verify(token);
    const { namespace, name } = parseJobKey(claims.jobKey);
    const job = await getJob(namespace, name);
    if (!job || job.metadata.uid !== claims.uid) throw new AgentAuthError(`job ${claims.jobKey} no longer exists`);
    if (!jobNodes(job.spec).includes(claims.node)) throw new AgentAuthError(`node ${claims.node} is not part of job ${claims.jobKey}`);
    return claims;
  }
}
