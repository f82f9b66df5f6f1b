'use client';
// History mode: how far the recorded files are processed, how fast, and when it will be done (from the
// cameras' framesProcessed/totalFrames and fps the agents report).
import type { MultiEdgeInferenceStatus } from '@mei/contracts';
import { formatDuration } from '@/app/search/time';

/** Seconds until every camera is done: cameras run in parallel, so the slowest remaining one decides. */
export function historyEta(status: MultiEdgeInferenceStatus): number | undefined {
  let eta: number | undefined;
  for (const c of status.cameras ?? []) {
    if (c.state === 'Completed' || !c.totalFrames) continue;
    const left = Math.max(0, c.totalFrames - (c.framesProcessed ?? 0));
    if (!c.fps || c.fps <= 0) return undefined; // not moving yet: no honest estimate
    eta = Math.max(eta ?? 0, left / c.fps);
  }
  return eta;
}

export function HistoryProgress({ status }: { status: MultiEdgeInferenceStatus }) {
  const progress = Math.max(0, Math.min(1, status.progress ?? 0));
  const fps = (status.cameras ?? []).reduce((s, c) => s + (c.state === 'Completed' ? 0 : (c.fps ?? 0)), 0);
  // Every frame processed is not yet done: the agents may still hold observations the server has not
  // committed (docs/delivery.md); the job is Succeeded once they have delivered everything.
  const done = status.phase === 'Succeeded';
  const delivering = !done && progress >= 1;
  const eta = done ? 0 : historyEta(status);
  return (
    <section className="card" aria-labelledby="progress-title">
      <h2 id="progress-title">Progress</h2>
      <div className="progress" role="progressbar" aria-label="Recorded frames processed" aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(progress * 100)} data-testid="progress">
        <div className="progress-bar" style={{ width: `${progress * 100}%` }} />
      </div>
      <p className="muted" data-testid="progress-text">
        {(progress * 100).toFixed(1)} % of recorded frames processed
        {!done && <> · {fps.toFixed(1)} fps · ETA {eta === undefined ? '—' : formatDuration(eta * 1000)}</>}
        {delivering && <> · delivering the last observations</>}
        {done && <> · done: its tracks are searchable</>}
      </p>
    </section>
  );
}
