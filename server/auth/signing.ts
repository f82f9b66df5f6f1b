// Compact HMAC-SHA256 signed claims: base64url(JSON) "." base64url(MAC). Each use (agent tokens, sessions)
// signs with its own key derived from the server secret, so one kind can never pass as the other.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import path from 'node:path';
import { readOrCreatePrivateFile } from './private-file.ts';

export function deriveKey(secret: Buffer, purpose: string): Buffer {
  return createHmac('sha256', secret).update(`mei:${purpose}`).digest();
}

export function signClaims(key: Buffer, claims: object): string {
  const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
  return `${body}.${createHmac('sha256', key).update(body).digest('base64url')}`;
}

/** The claims when the signature is valid, else undefined. */
export function verifyClaims(key: Buffer, token: unknown): Record<string, unknown> | undefined {
  if (typeof token !== 'string' || token.length > 4096) return undefined;
  const dot = token.indexOf('.');
  if (dot <= 0 || dot !== token.lastIndexOf('.')) return undefined;
  const body = token.slice(0, dot);
  const mac = Buffer.from(token.slice(dot + 1), 'base64url');
  const expected = createHmac('sha256', key).update(body).digest();
  if (mac.length !== expected.length || !timingSafeEqual(mac, expected)) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    return claims && typeof claims === 'object' && !Array.isArray(claims) ? claims : undefined;
  } catch {
    return undefined;
  }
}

/** MEI_SECRET, else a random secret generated once into `<stateDir>/secret` (mode 0600). */
export function loadServerSecret(stateDir: string, env: NodeJS.ProcessEnv = process.env): Buffer {
  const fromEnv = env.MEI_SECRET;
  if (fromEnv !== undefined) {
    if (fromEnv.length < 32) throw new Error('MEI_SECRET must be at least 32 characters');
    return Buffer.from(fromEnv, 'utf8');
  }
  if (env.MEI_MODE === 'kubernetes')
    throw new Error('MEI_SECRET is required in Kubernetes mode (mount it from a Secret): every replica must sign with the same key, and a secret generated into a Pod\'s filesystem is lost with the Pod');
  const { value } = readOrCreatePrivateFile(path.join(stateDir, 'secret'), () => randomBytes(32).toString('hex'), 32);
  return Buffer.from(value, 'utf8');
}
