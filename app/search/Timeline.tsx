'use client';
// Where an identity was seen: one row per camera, a bar per track over the identity's time span.
import type { CameraSpans } from '@mei/contracts';
import styles from './search.module.css';
import { formatTrackTime } from './time';

export function Timeline({ cameras, startMs, endMs }: { cameras: CameraSpans[]; startMs: number; endMs: number }) {
  const span = Math.max(1, endMs - startMs);
  const pct = (ms: number) => `${((ms - startMs) / span) * 100}%`;
  return (
    <div className={styles.timeline} data-testid="timeline">
      {cameras.map((c) => (
        <div key={c.camera} style={{ display: 'contents' }}>
          <span className={styles.timelineCam} title={c.camera} data-testid="timeline-camera">
            {c.camera}
          </span>
          <div className={styles.timelineBar} aria-label={`${c.camera}: ${c.spans.map((s) => `${formatTrackTime(s.startMs)}–${formatTrackTime(s.endMs)}`).join(', ')}`}>
            {c.spans.map((s) => (
              <span
                key={s.trackId}
                className={styles.span}
                style={{ left: pct(s.startMs), width: `calc(${pct(s.endMs)} - ${pct(s.startMs)})` }}
                title={`track ${s.trackId}: ${formatTrackTime(s.startMs)} – ${formatTrackTime(s.endMs)}`}
              />
            ))}
          </div>
        </div>
      ))}
      <div className={styles.timelineAxis}>
        <span>{formatTrackTime(startMs)}</span>
        <span>{formatTrackTime(endMs)}</span>
      </div>
    </div>
  );
}
