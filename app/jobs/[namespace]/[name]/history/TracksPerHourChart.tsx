'use client';
// Tracks started per hour, one bar group per hour and one bar per camera (SVG; hours on the source's clock:
// wall-clock hours for live cameras, hours into the recording for history jobs).
import { useTracksPerHour } from '@/app/search/api';

const W = 720;
const H = 140;
const PAD = 18;

export function TracksPerHourChart({ jobKey, recording }: { jobKey: string; recording: boolean }) {
  const q = useTracksPerHour(jobKey);
  const buckets = q.data?.buckets ?? [];
  if (!q.data) return <p className="muted">{q.error ? `Chart unavailable: ${(q.error as Error).message}` : 'Loading…'}</p>;
  if (!buckets.length) return <p className="muted" data-testid="tracks-per-hour-empty">No tracks stored yet.</p>;
  const cameras = [...new Set(buckets.map((b) => b.camera))].sort();
  const hours = [...new Set(buckets.map((b) => b.hourStartMs))].sort((a, b) => a - b);
  const max = Math.max(...buckets.map((b) => b.tracks));
  const slot = (W - PAD) / hours.length;
  const bar = Math.max(1, (slot * 0.8) / cameras.length);
  const label = (ms: number) => (recording ? `${ms / 3_600_000}h` : new Date(ms).toLocaleString(undefined, { month: 'short', day: 'numeric', hour: '2-digit' }));
  return (
    <svg className="hourly" viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`tracks per hour for ${cameras.join(', ')}`} data-testid="tracks-per-hour">
      {buckets.map((b) => {
        const h = (b.tracks / max) * (H - 2 * PAD);
        const x = PAD + hours.indexOf(b.hourStartMs) * slot + cameras.indexOf(b.camera) * bar;
        return (
          <rect key={`${b.camera}-${b.hourStartMs}`} x={x} y={H - PAD - h} width={bar - 1} height={h} opacity={1 - cameras.indexOf(b.camera) * (0.5 / cameras.length)} data-testid="hour-bar">
            <title>{`${b.camera}, ${label(b.hourStartMs)}: ${b.tracks} tracks`}</title>
          </rect>
        );
      })}
      {hours.map((h, i) => (
        <text key={h} x={PAD + i * slot} y={H - 4}>
          {label(h)}
        </text>
      ))}
      <text x={PAD} y={10}>{`max ${max} tracks/hour · ${cameras.join(', ')}`}</text>
    </svg>
  );
}
