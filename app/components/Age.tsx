'use client';
import { useNow } from '@/app/lib/hooks';

/** kubectl-style age: 45s, 12m, 3h, 5d. */
export function formatAge(fromIso: string | undefined, now: number): string {
  if (!fromIso) return '—';
  const t = Date.parse(fromIso);
  if (Number.isNaN(t)) return '—';
  const s = Math.max(0, Math.floor((now - t) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

export function Age({ since }: { since?: string }) {
  const now = useNow();
  return (
    <time dateTime={since} title={since ? new Date(since).toLocaleString() : undefined}>
      {formatAge(since, now)}
    </time>
  );
}
