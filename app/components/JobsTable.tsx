'use client';
import Link from 'next/link';
import { useRouter } from 'next/navigation';
import type { MultiEdgeInference } from '@mei/contracts';
import { Age } from './Age';
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
      <table className="table" data-testid="jobs-table">
        <thead>
          <tr>
            <th scope="col">Namespace</th>
            <th scope="col">Name</th>
            <th scope="col">Phase</th>
            <th scope="col" className="num">
              Cameras
            </th>
            <th scope="col" className="num">
              Identities
            </th>
            <th scope="col">Mode</th>
            <th scope="col" className="num">
              Age
            </th>
          </tr>
        </thead>
        <tbody>
          {jobs.map((j) => (
            <tr
              key={`${j.metadata.namespace}/${j.metadata.name}`}
              data-testid={`job-row-${j.metadata.name}`}
              className="row-link"
              onClick={(e) => {
                // The name cell is a real link (keyboard, middle-click); the rest of the row is a convenience.
                if (!(e.target as HTMLElement).closest('a')) router.push(jobHref(j));
              }}
            >
              <td className="muted">{j.metadata.namespace}</td>
              <td>
                <Link href={jobHref(j)} className="job-link">
                  {j.metadata.name}
                </Link>
              </td>
              <td>
                <PhaseBadge phase={displayPhase(j)} />
              </td>
              <td className="num" data-testid="cameras">
                {j.status?.cameraCount ?? j.spec.cameras.length}
              </td>
              <td className="num" data-testid="identities">
                {j.status?.identities ?? 0}
              </td>
              <td className="muted">{j.spec.mode ?? 'live'}</td>
              <td className="num">
                <Age since={j.metadata.creationTimestamp} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
