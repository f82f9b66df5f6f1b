// Track times are on the source's clock: epoch ms for live cameras, ms into the recording for history jobs
// (a recorded file starts at 0). Values before 1973 can only be offsets.
const OFFSET_LIMIT = 1e11;

export const isOffset = (ms: number) => Math.abs(ms) < OFFSET_LIMIT;

/** "1:02.5" into a recording, or the local date and time of a live observation. */
export function formatTrackTime(ms: number): string {
  if (isOffset(ms)) {
    const s = ms / 1000;
    const m = Math.floor(s / 60);
    return `${m}:${(s - m * 60).toFixed(1).padStart(4, '0')}`;
  }
  return new Date(ms).toLocaleString();
}

export function formatDuration(ms: number): string {
  const s = Math.max(0, ms) / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${Math.round(s - m * 60)}s`;
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}

/**
 * A time filter input as ms on the tracks' clock: seconds into the recording for history jobs, a local
 * date-time (datetime-local) for live ones. Empty means open.
 */
export function parseTimeInput(value: string, history: boolean): number | undefined {
  if (!value.trim()) return undefined;
  if (history) {
    const s = Number(value);
    return Number.isFinite(s) ? Math.round(s * 1000) : undefined;
  }
  const t = Date.parse(value);
  return Number.isNaN(t) ? undefined : t;
}
