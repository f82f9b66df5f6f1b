'use client';
import Link from 'next/link';
import { useJobEvents, useJobs } from '@/app/lib/hooks';
import { JobsTable } from './JobsTable';
import { LiveIndicator } from './LiveIndicator';

export function JobsView() {
  const jobs = useJobs();
  const live = useJobEvents();
  return (
    <section aria-labelledby="jobs-title">
      <div className="page-head">
        <h1 id="jobs-title">Tracking jobs</h1>
        <LiveIndicator status={live.status} error={live.error} />
        <div className="header-spacer" />
        <Link href="/jobs/new" className="btn btn-primary" data-testid="new-job">
          New job
        </Link>
      </div>
      {jobs.isLoading && <p className="muted">Loading jobs…</p>}
      {jobs.error && (
        <div className="alert alert-error" role="alert">
          Could not load jobs: {jobs.error.message}
        </div>
      )}
      {jobs.data && <JobsTable jobs={jobs.data} />}
    </section>
  );
}
