// Flow control in bytes, per job: what a job's batches hold in this process between arrival and being handed
// to the history writer (waiting for commit, then waiting for the live hub to apply them). A job at its limit
// is answered retry-later (its agents keep the data in their spools); nothing is ever evicted, and one job's
// load never takes another job's room.
export class ByteBudget {
  private readonly used = new Map<string, number>();

  constructor(readonly limitPerJob: number) {}

  /** Reserves `bytes` for the job; false when that would pass its limit (a lone batch always fits). */
  take(job: string, bytes: number): boolean {
    const u = this.used.get(job) ?? 0;
    if (u > 0 && u + bytes > this.limitPerJob) return false;
    this.used.set(job, u + bytes);
    return true;
  }

  release(job: string, bytes: number): void {
    const u = (this.used.get(job) ?? 0) - bytes;
    if (u <= 0) this.used.delete(job);
    else this.used.set(job, u);
  }

  usedBy(job: string): number {
    return this.used.get(job) ?? 0;
  }

  get total(): number {
    let t = 0;
    for (const v of this.used.values()) t += v;
    return t;
  }
}
