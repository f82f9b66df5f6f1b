// Human units for the dashboard (SI, as network rates are usually given: 1 kB = 1000 bytes).

/** A byte rate as "850 B/s", "2.1 kB/s", "1.4 MB/s"; '—' when unknown. */
export function formatByteRate(bytesPerSecond: number | undefined): string {
  if (bytesPerSecond === undefined || !Number.isFinite(bytesPerSecond) || bytesPerSecond < 0) return '—';
  if (bytesPerSecond < 1000) return `${Math.round(bytesPerSecond)} B/s`;
  const units = ['kB/s', 'MB/s', 'GB/s'];
  let v = bytesPerSecond / 1000;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) [v, i] = [v / 1000, i + 1];
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}
