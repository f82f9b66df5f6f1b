'use client';
import { useEffect, useState, type FormEvent } from 'react';
import { useRouter, useSearchParams } from 'next/navigation';
import { ApiRequestError, safeNextPath } from '@/app/lib/http';
import { useLogin } from '@/app/lib/hooks';

export function LoginForm() {
  const router = useRouter();
  const next = safeNextPath(useSearchParams().get('next'));
  const login = useLogin();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  // Until React has hydrated, a click would submit the plain HTML form: keep the button off till then.
  const [ready, setReady] = useState(false);
  useEffect(() => setReady(true), []);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    login.mutate({ username, password }, { onSuccess: () => router.replace(next) });
  };

  const err = login.error;
  const message = !err
    ? undefined
    : err instanceof ApiRequestError && err.status === 401
      ? 'Wrong username or password.'
      : err instanceof ApiRequestError && err.status === 429
        ? 'Too many attempts. Wait a moment and try again.'
        : `Sign-in failed: ${err.message}`;

  // method=post: even a submit before hydration must never put the password into the URL.
  return (
    <form className="card login-card" method="post" onSubmit={submit} aria-labelledby="login-title">
      <h1 id="login-title">Sign in to MEI</h1>
      <p className="muted">Cross-camera person tracking on edge nodes.</p>
      {message && (
        <div className="alert alert-error" role="alert" data-testid="login-error">
          {message}
        </div>
      )}
      <div className="field">
        <label htmlFor="username">Username</label>
        <input id="username" name="username" autoComplete="username" required autoFocus value={username} onChange={(e) => setUsername(e.target.value)} />
      </div>
      <div className="field">
        <label htmlFor="password">Password</label>
        <input id="password" name="password" type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
      </div>
      <button type="submit" className="btn btn-primary btn-block" disabled={!ready || login.isPending}>
        {login.isPending ? 'Signing in…' : 'Sign in'}
      </button>
    </form>
  );
}
