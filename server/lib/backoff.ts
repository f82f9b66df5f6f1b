/** Exponential backoff: baseMs * 2^attempt, capped at maxMs (the work queue's and the worker restarts'). */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
}
