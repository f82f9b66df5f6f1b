import type { LiveStatus } from '@/app/lib/hooks';

const LABEL: Record<LiveStatus, string> = { connecting: 'Connecting…', live: 'Live', offline: 'Reconnecting…' };

export function LiveIndicator({ status, error }: { status: LiveStatus; error?: string }) {
  return (
    <span className={`live live-${status}`} data-testid="live-status" data-status={status} title={error} role="status">
      <span className="live-dot" aria-hidden />
      {LABEL[status]}
    </span>
  );
}
