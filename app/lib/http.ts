// fetch for the dashboard's own API: JSON in and out, errors as ApiRequestError carrying the server's body.
// A 401 on anything but the login call means the session is gone, so the browser goes to /login and comes
// back to the page it was on after signing in.
import { apiPaths, type ApiError, type FieldError } from '@mei/contracts';

export class ApiRequestError extends Error {
  readonly status: number;
  readonly body: (ApiError & { errors?: FieldError[] }) | undefined;
  constructor(status: number, body: (ApiError & { errors?: FieldError[] }) | undefined, fallback: string) {
    super(body?.error || fallback);
    this.name = 'ApiRequestError';
    this.status = status;
    this.body = body;
  }
  /** Field errors of a 422 (or the single field of a 409), empty when the server named none. */
  get fieldErrors(): FieldError[] {
    if (this.body?.errors?.length) return this.body.errors;
    if (this.body?.field) return [{ field: this.body.field, reason: 'FieldValueInvalid', message: this.body.error }];
    return [];
  }
}

/** Where to send the user back to after signing in; only same-site paths (no open redirect). */
export function safeNextPath(next: string | null | undefined): string {
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\') || next.startsWith('/login')) return '/';
  return next;
}

export function loginUrlFor(path: string): string {
  return `/login?next=${encodeURIComponent(safeNextPath(path))}`;
}

function redirectToLogin() {
  if (typeof window === 'undefined' || window.location.pathname === '/login') return;
  window.location.assign(loginUrlFor(window.location.pathname + window.location.search));
}

export async function apiFetch<T>(path: string, init: RequestInit & { json?: unknown } = {}): Promise<T> {
  const { json, headers, ...rest } = init;
  const res = await fetch(path, {
    credentials: 'same-origin',
    ...rest,
    headers: { accept: 'application/json', ...(json !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    body: json !== undefined ? JSON.stringify(json) : rest.body,
  });
  const text = await res.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  if (!res.ok) {
    if (res.status === 401 && path !== apiPaths.login) redirectToLogin();
    throw new ApiRequestError(res.status, body as ApiError | undefined, `${init.method ?? 'GET'} ${path} failed: ${res.status} ${res.statusText}`);
  }
  return body as T;
}
