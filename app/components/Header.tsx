'use client';
import Link from 'next/link';
import { usePathname, useRouter } from 'next/navigation';
import { useInfo, useLogout, useMe } from '@/app/lib/hooks';

export function Header() {
  const pathname = usePathname();
  const onLogin = pathname === '/login';
  // On /login there is no session yet: both calls would only answer 401.
  const info = useInfo(!onLogin);
  const me = useMe(!onLogin);
  const logout = useLogout();
  const router = useRouter();

  const signOut = () =>
    logout.mutate(undefined, {
      onSettled: () => router.replace('/login'),
    });

  return (
    <header className="header">
      <div className="header-inner">
        <Link href="/" className="brand" aria-label="MEI home">
          <span className="brand-mark" aria-hidden>
            ◎
          </span>
          MEI
        </Link>
        {info.data && (
          <span className={`mode-pill mode-${info.data.mode}`} data-testid="server-mode" title={`Database: ${info.data.database} · v${info.data.version}`}>
            {info.data.mode}
          </span>
        )}
        {!onLogin && (
          <nav className="nav" aria-label="Main">
            <Link href="/" className={pathname === '/' ? 'active' : undefined}>
              Jobs
            </Link>
            <Link href="/jobs/new" className={pathname === '/jobs/new' ? 'active' : undefined}>
              New job
            </Link>
            <Link href="/search" className={pathname === '/search' ? 'active' : undefined}>
              Search
            </Link>
          </nav>
        )}
        <div className="header-spacer" />
        {!onLogin && me.data && (
          <div className="user">
            <span className="user-name" data-testid="current-user">
              {me.data.username}
            </span>
            <button type="button" className="btn btn-ghost btn-sm" onClick={signOut} disabled={logout.isPending}>
              Sign out
            </button>
          </div>
        )}
      </div>
    </header>
  );
}
