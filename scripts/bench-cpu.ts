// CPU accounting shared by the benchmark scripts.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** CPU ms of this process's reaped child processes (ffmpeg decoders, Python peers) from /proc (Linux); undefined elsewhere. */
export function childCpuMs(): number | undefined {
  try {
    // Fields after the ")" of the command name; cutime and cstime are fields 16 and 17 (1-based) of stat.
    const rest = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
    const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    return ((Number(rest[13]) + Number(rest[14])) * 1000) / ticks;
  } catch {
    return undefined;
  }
}
