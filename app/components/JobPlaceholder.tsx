import Link from 'next/link';
import type { useJob } from '@/app/lib/hooks';

/** What a job page shows instead of the job while it loads, fails to load, or is gone; null once it is there. */
export function JobPlaceholder({ job, namespace, name }: { job: ReturnType<typeof useJob>; namespace: string; name: string }) {
  if (job.isLoading) return <p className="muted">Loading job…</p>;
  if (job.error)
    return (
      <div className="alert alert-error" role="alert">
        Could not load {namespace}/{name}: {job.error.message}
      </div>
    );
  if (!job.data)
    return (
      <div className="card empty" data-testid="job-gone">
        <p>
          Job <strong>{namespace}/{name}</strong> does not exist (or was just deleted).
        </p>
        <Link href="/" className="btn">
          Back to jobs
        </Link>
      </div>
    );
  return null;
}
