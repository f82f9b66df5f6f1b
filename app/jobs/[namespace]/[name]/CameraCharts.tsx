'use client';
// Per camera, the last minutes of fps, people in view and live latency (server-side samples, useJobSeries).
import { Sparkline } from '@/app/components/Sparkline';
import { useJobSeries } from '@/app/lib/hooks';

export function CameraCharts({ namespace, name }: { namespace: string; name: string }) {
  const series = useJobSeries(namespace, name);
  if (!series.data) return <p className="muted">{series.error ? `Charts unavailable: ${(series.error as Error).message}` : 'Loading charts…'}</p>;
  const { cameras, windowMs } = series.data;
  const toT = Math.max(Date.now(), ...cameras.flatMap((c) => c.samples.map((s) => s.t)));
  const fromT = toT - windowMs;
  return (
    <div className="camera-charts" data-testid="camera-charts">
      {cameras.map((c) => (
        <div key={c.name} className="camera-chart-row" data-testid={`camera-charts-${c.name}`}>
          <h3>{c.name}</h3>
          <Sparkline label="fps" points={c.samples.map((s) => ({ t: s.t, v: s.fps }))} fromT={fromT} toT={toT} testId={`chart-fps-${c.name}`} />
          <Sparkline label="people" digits={0} points={c.samples.map((s) => ({ t: s.t, v: s.people }))} fromT={fromT} toT={toT} testId={`chart-people-${c.name}`} />
          <Sparkline label="latency" unit="ms" digits={0} points={c.samples.map((s) => ({ t: s.t, v: s.latencyMs }))} fromT={fromT} toT={toT} testId={`chart-latency-${c.name}`} />
        </div>
      ))}
    </div>
  );
}
