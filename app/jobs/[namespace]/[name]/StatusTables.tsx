'use client';
import type { CameraSpec, CameraStatus, Condition, WorkerStatus } from '@mei/contracts';
import { Age } from '@/app/components/Age';
import { PhaseBadge } from '@/app/components/PhaseBadge';
import { DataTable } from '@/app/components/DataTable';
import { formatByteRate } from '@/app/lib/units';

// For these condition types True is bad news (Kubernetes' "abnormal-true" conditions).
const ABNORMAL_TRUE = new Set(['Degraded', 'Failed']);
function conditionTone(c: Condition): 'good' | 'bad' | 'unknown' {
  if (c.status === 'Unknown') return 'unknown';
  return (c.status === 'True') !== ABNORMAL_TRUE.has(c.type) ? 'good' : 'bad';
}

const None = ({ what }: { what: string }) => <p className="muted">No {what} reported yet.</p>;

export function ConditionsTable({ conditions }: { conditions: Condition[] }) {
  if (!conditions.length) return <None what="conditions" />;
  return (
    <div className="table-wrap">
      <DataTable
        testId="conditions-table"
        rows={conditions}
        rowKey={(c) => c.type}
        rowTestId={(c) => `condition-${c.type}`}
        columns={[
          { header: 'Type', cell: (c) => c.type },
          { header: 'Status', cell: (c) => <span className={`cond cond-${conditionTone(c)}`}>{c.status}</span> },
          { header: 'Reason', cell: (c) => c.reason ?? '' },
          { header: 'Message', cell: (c) => c.message ?? '', className: 'msg' },
          { header: 'Last transition', cell: (c) => (c.lastTransitionTime ? <Age since={c.lastTransitionTime} /> : '—') },
        ]}
      />
    </div>
  );
}

export function WorkersTable({ workers }: { workers: WorkerStatus[] }) {
  if (!workers.length) return <None what="workers" />;
  return (
    <div className="table-wrap">
      <DataTable
        testId="workers-table"
        rows={workers}
        rowKey={(w) => w.node}
        rowTestId={(w) => `worker-${w.node}`}
        columns={[
          { header: 'Node', cell: (w) => w.node },
          { header: 'Name', cell: (w) => w.name ?? '—', className: 'mono' },
          { header: 'Phase', cell: (w) => <PhaseBadge phase={w.phase ?? 'Pending'} testId="worker-phase" /> },
          { header: 'Restarts', cell: (w) => w.restarts ?? 0, num: true },
          { header: 'Last heartbeat', cell: (w) => (w.lastHeartbeat ? <><Age since={w.lastHeartbeat} /> ago</> : '—') },
          { header: 'Message', cell: (w) => w.message ?? '', className: 'msg' },
        ]}
      />
    </div>
  );
}

const fmtFps = (v?: number) => (v === undefined ? '—' : v.toFixed(1));
/** Observation batches the worker's spool still holds: their size and the oldest one's age. */
function fmtSpool(c: CameraStatus): string {
  if (c.spooledBytes === undefined) return '—';
  if (!c.spooledBytes) return '0';
  const size = c.spooledBytes >= 1e6 ? `${(c.spooledBytes / 1e6).toFixed(1)} MB` : `${(c.spooledBytes / 1e3).toFixed(1)} kB`;
  return `${size} · ${c.oldestUnsentSeconds ?? 0} s`;
}

/** One row per camera in the spec, filled in by the worker's reports (spec order, reported extras after). */
export function CamerasTable({ cameras, spec }: { cameras: CameraStatus[]; spec: CameraSpec[] }) {
  const byName = new Map(cameras.map((c) => [c.name, c]));
  const rows: CameraStatus[] = [...spec.map((s) => byName.get(s.name) ?? { name: s.name }), ...cameras.filter((c) => !spec.some((s) => s.name === c.name))];
  return (
    <div className="table-wrap">
      <DataTable
        testId="cameras-table"
        rows={rows}
        rowKey={(c) => c.name}
        rowTestId={(c) => `camera-status-${c.name}`}
        columns={[
          { header: 'Name', cell: (c) => c.name },
          { header: 'State', cell: (c) => <PhaseBadge phase={c.state ?? 'Pending'} testId="camera-state" /> },
          { header: 'FPS', cell: (c) => fmtFps(c.fps), num: true },
          { header: 'Upstream', cell: (c) => formatByteRate(c.upstreamBytesPerSecond), num: true, testId: 'upstream' },
          { header: 'Unsent', cell: (c) => fmtSpool(c), num: true, testId: 'spool' },
          { header: 'Dropped', cell: (c) => c.droppedBatches ?? '—', num: true, testId: 'dropped' },
          { header: 'Active tracks', cell: (c) => c.activeTracks ?? '—', num: true },
          { header: 'Frames', cell: (c) => `${c.framesProcessed ?? 0}${c.totalFrames ? ` / ${c.totalFrames}` : ''}`, num: true, testId: 'frames' },
          { header: 'Message', cell: (c) => c.message ?? '', className: 'msg' },
        ]}
      />
    </div>
  );
}
