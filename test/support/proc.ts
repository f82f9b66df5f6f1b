// What a process has used so far, from Linux /proc: for the CPU ms and memory that tests and benchmarks report.
import { readFileSync } from 'node:fs';

/** CPU time (user + system, ms) process `pid` has used (clock ticks of 10 ms). */
export function cpuMsOf(pid: number | 'self'): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}

/** Peak (VmHWM) and current RSS of process `pid`, in MB. */
export function rssOf(pid: number): { peakMb: number; nowMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { peakMb: kb('VmHWM') / 1024, nowMb: kb('VmRSS') / 1024 };
}
