// Browsers send Origin on cross-site requests (and on every WebSocket handshake). Refusing a foreign one on
// state-changing calls and on the UI socket backs up the SameSite=Lax session cookie.

/** True when `origin` is present and names another host than the request's Host header. */
export function isCrossSite(origin: string | null | undefined, host: string | null | undefined): boolean {
  if (!origin) return false;
  try {
    return new URL(origin).host !== host;
  } catch {
    return true;
  }
}
