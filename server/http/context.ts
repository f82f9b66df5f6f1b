// What the route handlers need from the running control plane. Next bundles route handlers separately from
// server/main.ts, so module singletons are not shared: the server publishes the control plane on globalThis.
import type { CameraSeries } from '../observability/camera-series.ts';
import type { JSONSchema, ServerInfo } from '@mei/contracts';
import type { JobBackend } from '../backends/types.ts';
import type { LoginRateLimiter } from '../auth/login-limiter.ts';
import type { Sessions } from '../auth/sessions.ts';
import type { UserDirectory } from '../auth/users.ts';
import type { Logger } from '../log.ts';
import type { AdmissionPolicy } from '../admission/user-job.ts';

export interface ApiContext {
  info: ServerInfo;
  backend: JobBackend;
  users: Pick<UserDirectory, 'authenticate'>;
  sessions: Sessions;
  loginLimiter: LoginRateLimiter;
  jobSchema: JSONSchema;
  /** Media and image policy for user-submitted jobs (defaults when absent). */
  admission?: AdmissionPolicy;
  log: Logger;
  /** The last minutes of every camera (job page charts). */
  series?: Pick<CameraSeries, 'get'>;
  /** This replica's readiness and leader role (/api/health); absent: always ready. */
  health?(): { ready: boolean; role: string; message?: string };
}

declare global {
  // eslint-disable-next-line no-var
  var __meiControlPlane: ApiContext | undefined;
}

export const publishContext = (ctx: ApiContext | undefined) => {
  globalThis.__meiControlPlane = ctx;
};
export const currentContext = (): ApiContext | undefined => globalThis.__meiControlPlane;

/**
 * Set by server/main.ts (overwriting anything a client sent): the client's address (the login rate-limit
 * key) and whether it came over HTTPS (the Secure cookie). From the TCP peer, or from X-Forwarded-For /
 * X-Forwarded-Proto only when MEI_TRUST_PROXY=1 says a proxy in front sets them.
 */
export const CLIENT_IP_HEADER = 'x-mei-client-ip';
export const CLIENT_PROTO_HEADER = 'x-mei-client-proto';

/** The client's address and protocol for a request that reached this server from `peer`. */
export function clientOf(headers: Record<string, string | string[] | undefined>, peer: { remoteAddress?: string; encrypted?: boolean }, trustProxy: boolean): { ip: string; proto: 'http' | 'https' } {
  const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
  let ip = peer.remoteAddress ?? 'unknown';
  let proto: 'http' | 'https' = peer.encrypted ? 'https' : 'http';
  if (trustProxy) {
    // The proxy appends the address it saw: the last entry is the one no client can forge.
    const xff = first(headers['x-forwarded-for'])?.split(',').map((s) => s.trim()).filter(Boolean);
    if (xff?.length) ip = xff[xff.length - 1];
    const xfp = first(headers['x-forwarded-proto'])?.split(',')[0]?.trim().toLowerCase();
    if (xfp === 'https' || xfp === 'http') proto = xfp;
  }
  return { ip, proto };
}
