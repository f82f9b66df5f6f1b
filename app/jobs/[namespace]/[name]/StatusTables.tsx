'use client';
import type { CameraSpec, CameraStatus, Condition, WorkerStatus } from '@mei/contracts';
import { Age } from '@/app/components/Age';
import { PhaseBadge } from '@/app/components/PhaseBadge';

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
      <table className="table" data-testid="conditions-table">
        <thead>
          <tr>
            <th scope="col">Type</th>
            <th scope="col">Status</th>
            <th scope="col">Reason</th>
            <th scope="col">Message</th>
            <th scope="col">Last transition</th>
          </tr>
        </thead>
        <tbody>
          {conditions.map((c) => (
            <tr key={c.type} data-testid={`condition-${c.type}`}>
              <td>{c.type}</td>
              <td>
                <span className={`cond cond-${conditionTone(c)}`}>{c.status}</span>
              </td>
              <td>{c.reason ?? ''}</td>
              <td className="msg">{c.message ?? ''}</td>
              <td>{c.lastTransitionTime ? <Age since={c.lastTransitionTime} /> : '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function WorkersTable({ workers }: { workers: WorkerStatus[] }) {
  if (!workers.length) return <None what="workers" />;
  return (
    <div className="table-wrap">
      <table className="table" data-testid="workers-table">
        <thead>
          <tr>
            <th scope="col">Node</th>
            <th scope="col">Name</th>
            <th scope="col">Phase</th>
            <th scope="col" className="num">
              Restarts
            </th>
            <th scope="col">Last heartbeat</th>
            <th scope="col">Message</th>
          </tr>
        </thead>
        <tbody>
          {workers.map((w) => (
            <tr key={w.node} data-testid={`worker-${w.node}`}>
              <td>{w.node}</td>
              <td className="mono">{w.name ?? '—'}</td>
              <td>
                <PhaseBadge phase={w.phase ?? 'Pending'} testId="worker-phase" />
              </td>
              <td className="num">{w.restarts ?? 0}</td>
              <td>{w.lastHeartbeat ? <><Age since={w.lastHeartbeat} /> ago</> : '—'}</td>
              <td className="msg">{w.message ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

const fmtFps = (v?: number) => (v === undefined ? '—' : v.toFixed(1));

/** One row per camera in the spec, filled in by the worker's reports (spec order, reported extras after). */
export function CamerasTable({ cameras, spec }: { cameras: CameraStatus[]; spec: CameraSpec[] }) {
  const byName = new Map(cameras.map((c) => [c.name, c]));
  const rows: CameraStatus[] = [...spec.map((s) => byName.get(s.name) ?? { name: s.name }), ...cameras.filter((c) => !spec.some((s) => s.name === c.name))];
  return (
    <div className="table-wrap">
      <table className="table" data-testid="cameras-table">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">State</th>
            <th scope="col" className="num">
              FPS
            </th>
            <th scope="col" className="num">
              Active tracks
            </th>
            <th scope="col" className="num">
              Frames
            </th>
            <th scope="col">Message</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((c) => (
            <tr key={c.name} data-testid={`camera-status-${c.name}`}>
              <td>{c.name}</td>
              <td>
                <PhaseBadge phase={c.state ?? 'Pending'} testId="camera-state" />
              </td>
              <td className="num">{fmtFps(c.fps)}</td>
              <td className="num">{c.activeTracks ?? '—'}</td>
              <td className="num" data-testid="frames">
                {c.framesProcessed ?? 0}
                {c.totalFrames ? ` / ${c.totalFrames}` : ''}
              </td>
              <td className="msg">{c.message ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
