// A small SVG line chart of (t, value) points over a fixed time window: no axes, the latest value beside it.
// Gaps (no value in a sample) break the line instead of drawing through them.
export interface SparkPoint {
  t: number;
  v?: number;
}

export function Sparkline({
  points,
  fromT,
  toT,
  label,
  unit,
  testId,
  width = 160,
  height = 36,
  digits = 1,
}: {
  points: SparkPoint[];
  fromT: number;
  toT: number;
  label: string;
  unit?: string;
  testId?: string;
  width?: number;
  height?: number;
  digits?: number;
}) {
  const values = points.filter((p) => p.v !== undefined).map((p) => p.v!);
  const max = Math.max(1e-9, ...values);
  const x = (t: number) => ((t - fromT) / Math.max(1, toT - fromT)) * width;
  const y = (v: number) => height - 2 - (v / max) * (height - 4);
  // One polyline per run of consecutive known values.
  const runs: string[] = [];
  let cur: string[] = [];
  for (const p of points) {
    if (p.v === undefined) {
      if (cur.length) runs.push(cur.join(' '));
      cur = [];
    } else cur.push(`${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`);
  }
  if (cur.length) runs.push(cur.join(' '));
  const last = values.at(-1);
  return (
    <figure className="spark" data-testid={testId} data-points={values.length}>
      <figcaption>
        {label} <strong data-testid={testId ? `${testId}-value` : undefined}>{last === undefined ? '—' : `${last.toFixed(digits)}${unit ? ` ${unit}` : ''}`}</strong>
      </figcaption>
      <svg width={width} height={height} viewBox={`0 0 ${width} ${height}`} role="img" aria-label={`${label} over the last ${Math.round((toT - fromT) / 60_000)} minutes, max ${max.toFixed(digits)}`}>
        <line x1={0} y1={height - 1} x2={width} y2={height - 1} className="spark-axis" />
        {runs.map((r, i) => (
          <polyline key={i} points={r} className="spark-line" />
        ))}
      </svg>
    </figure>
  );
}
