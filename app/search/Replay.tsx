'use client';
// Replays a person's boxes on a neutral background (no pixels needed): one canvas per camera, the stored
// trajectory as a faint trail of foot points and the box at the current time, interpolated between points.
import { useEffect, useMemo, useRef, useState } from 'react';
import { useQueries } from '@tanstack/react-query';
import { apiPaths, type StoredTrack, type TrackDetail, type TrajectoryPoint } from '@mei/contracts';
import { apiFetch } from '@/app/lib/http';
import styles from './search.module.css';
import { formatTrackTime } from './time';

const MAX_W = 300;
/** The whole replay takes about this long, whatever the real duration. */
const REPLAY_MS = 8_000;

/** The box of a trajectory at time t (linear between stored points), or undefined outside it. */
export function boxAt(points: readonly TrajectoryPoint[], t: number): TrajectoryPoint | undefined {
  if (!points.length || t < points[0][0] || t > points[points.length - 1][0]) return undefined;
  let i = 1;
  while (i < points.length && points[i][0] < t) i++;
  if (i >= points.length) return points[points.length - 1];
  const a = points[i - 1];
  const b = points[i];
  const f = b[0] === a[0] ? 1 : (t - a[0]) / (b[0] - a[0]);
  return a.map((v, k) => v + (b[k] - v) * f) as TrajectoryPoint;
}

function frameSize(tracks: TrackDetail[]): { w: number; h: number } {
  let w = Math.max(0, ...tracks.map((t) => t.frameWidth));
  let h = Math.max(0, ...tracks.map((t) => t.frameHeight));
  // Unknown frame size: the extent of the boxes.
  if (!w || !h) for (const t of tracks) for (const p of t.points) [w, h] = [Math.max(w, p[1] + p[3]), Math.max(h, p[2] + p[4])];
  return { w: w || 1, h: h || 1 };
}

function draw(canvas: HTMLCanvasElement, tracks: TrackDetail[], t: number) {
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  const { w, h } = frameSize(tracks);
  const s = canvas.width / w;
  ctx.fillStyle = '#eef1f5';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  for (const tr of tracks) {
    ctx.strokeStyle = 'rgba(36, 87, 214, 0.35)';
    ctx.lineWidth = 2;
    ctx.beginPath();
    tr.points.forEach((p, i) => {
      const x = (p[1] + p[3] / 2) * s;
      const y = (p[2] + p[4]) * s;
      if (i === 0) ctx.moveTo(x, y);
      else ctx.lineTo(x, y);
    });
    ctx.stroke();
    const b = boxAt(tr.points, t);
    if (b) {
      ctx.strokeStyle = '#2457d6';
      ctx.lineWidth = 2;
      ctx.strokeRect(b[1] * s, b[2] * s, b[3] * s, b[4] * s);
      ctx.fillStyle = '#2457d6';
      ctx.font = '11px system-ui';
      ctx.fillText(`#${tr.localId}`, b[1] * s, Math.max(10, b[2] * s - 3));
    }
  }
}

export function Replay({ tracks }: { tracks: StoredTrack[] }) {
  const details = useQueries({
    queries: tracks.map((t) => ({ queryKey: ['history', 'track', t.id], queryFn: () => apiFetch<TrackDetail>(apiPaths.track(t.id)), staleTime: 60_000 })),
  });
  const loaded = details.map((d) => d.data).filter((d): d is TrackDetail => !!d);
  const ready = loaded.length === tracks.length;
  const cameras = useMemo(() => {
    const m = new Map<string, TrackDetail[]>();
    for (const d of loaded) m.set(d.camera, [...(m.get(d.camera) ?? []), d]);
    return [...m.entries()].sort((a, b) => a[0].localeCompare(b[0]));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [ready, tracks.map((t) => t.id).join(',')]);
  const start = Math.min(...tracks.map((t) => t.startMs));
  const end = Math.max(...tracks.map((t) => t.endMs));
  const [t, setT] = useState(start);
  const [playing, setPlaying] = useState(true);
  const canvases = useRef(new Map<string, HTMLCanvasElement>());

  useEffect(() => {
    if (!playing || !ready) return;
    let raf = 0;
    let last = performance.now();
    const speed = Math.max(1, (end - start) / REPLAY_MS);
    const step = (now: number) => {
      setT((cur) => {
        const next = cur + (now - last) * speed;
        return next > end ? start : next;
      });
      last = now;
      raf = requestAnimationFrame(step);
    };
    raf = requestAnimationFrame(step);
    return () => cancelAnimationFrame(raf);
  }, [playing, ready, start, end]);

  useEffect(() => {
    for (const [camera, list] of cameras) {
      const c = canvases.current.get(camera);
      if (c) draw(c, list, t);
    }
  }, [cameras, t]);

  if (details.some((d) => d.error)) return <p className="alert alert-error">Could not load the trajectories.</p>;
  if (!ready) return <p className="muted">Loading trajectories…</p>;
  return (
    <div>
      <div className={styles.replay} data-testid="replay">
        {cameras.map(([camera, list]) => {
          const { w, h } = frameSize(list);
          const cw = Math.min(MAX_W, w);
          return (
            <div key={camera} className={styles.replayCam}>
              <canvas
                ref={(el) => {
                  if (el) canvases.current.set(camera, el);
                  else canvases.current.delete(camera);
                }}
                className={styles.replayCanvas}
                width={cw}
                height={Math.round((cw * h) / w)}
                data-testid={`replay-${camera}`}
                aria-label={`Replay of the person's boxes on camera ${camera}`}
              />
              <span>{camera}</span>
            </div>
          );
        })}
      </div>
      <div className={styles.actions}>
        <button type="button" className="btn btn-sm" onClick={() => setPlaying((p) => !p)}>
          {playing ? 'Pause' : 'Play'}
        </button>
        <input type="range" min={start} max={end} value={Math.round(t)} onChange={(e) => (setPlaying(false), setT(Number(e.target.value)))} aria-label="Replay time" />
        <span className="mono">{formatTrackTime(t)}</span>
      </div>
    </div>
  );
}
