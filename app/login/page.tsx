import { Suspense } from 'react';
import { LoginForm } from './LoginForm';

export const metadata = { title: 'Sign in — MEI' };

export default function LoginPage() {
  return (
    <div className="login-wrap">
      {/* useSearchParams (the ?next= target) needs a Suspense boundary for static rendering. */}
      <Suspense fallback={null}>
        <LoginForm />
      </Suspense>
    </div>
  );
}
