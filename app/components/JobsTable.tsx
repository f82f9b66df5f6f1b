'use client';
import Link from 'next/link';
import { useRouter } from 'next/navigation';
import { applyDefaults, type MultiEdgeInference } from '@mei/contracts';
import { Age } from './Age';
import { DataTable } from './DataTable';
import { PhaseBadge, displayPhase } from './PhaseBadge';

export const jobHref = (j: MultiEdgeInference) => `/jobs/${encodeURIComponent(j.metadata.namespace)}/${encodeURIComponent(j.metadata.name)}`;

export function JobsTable({ jobs }: { jobs: MultiEdgeInference[] }) {
  const router = useRouter();
  if (jobs.length === 0) {
    return (
      <div className="empty card" data-testid="jobs-empty">
        <p>No tracking jobs yet.</p>
        <Link href="/jobs/new" className="btn btn-primary">
          Create the first job
        </Link>
      </div>
    );
  }
  return (
    <div className="table-wrap card">
      <DataTable
        testId="jobs-table"
        rows={jobs}
        rowKey={(j) => `${j.metadata.namespace}/${j.metadata.name}`}
        rowTestId={(j) => `job-row-${j.metadata.name}`}
        rowProps={(j) => ({
          className: 'row-link',
          // The name cell is a real link (keyboard, middle-click); the rest of the row is a convenience.
          onClick: (e) => {
            if (!(e.target as HTMLElement).closest('a')) router.push(jobHref(j));
          },
        })}
        columns={[
          { header: 'Namespace', cell: (j) => j.metadata.namespace, className: 'muted' },
          {
            header: 'Name',
            cell: (j) => (
              <Link href={jobHref(j)} className="job-link">
                {j.metadata.name}
              </Link>
            ),
          },
          { header: 'Phase', cell: (j) => <PhaseBadge phase={displayPhase(j)} /> },
          { header: 'Cameras', cell: (j) => j.status?.cameraCount ?? j.spec.cameras.length, num: true, testId: 'cameras' },
          { header: 'Identities', cell: (j) => j.status?.identities ?? 0, num: true, testId: 'identities' },
          { header: 'Mode', cell: (j) => applyDefaults(j.spec).mode, className: 'muted' },
          { header: 'Age', cell: (j) => <Age since={j.metadata.creationTimestamp} />, num: true },
        ]}
      />
    </div>
  );
}
