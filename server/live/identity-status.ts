// Identity lists to the browsers watching a job (when changed, and again now and then so ages and quiet
// cameras refresh) and identity counts to status.identities (through the upstream controller's report cache,
// at most every statusEveryMs per job).
import type { LiveFanout } from './fanout.ts';
import type { JobState } from './job-states.ts';

export interface IdentityStatusOptions {
  /** Where the identity count goes (the upstream controller writes it into status.identities). */
  identityCounts?: { setIdentities(jobKey: string, uid: string, count: number): void };
  /** The identity list is re-sent this often even unchanged. */
  refreshMs: number;
  /** status.identities is written at most this often per job. */
  statusEveryMs: number;
}

export class IdentityStatus {
  private readonly identityCounts?: IdentityStatusOptions['identityCounts'];
  private readonly refreshMs: number;
  private readonly statusEveryMs: number;

  constructor({ identityCounts, refreshMs, statusEveryMs }: IdentityStatusOptions) {
    this.identityCounts = identityCounts;
    this.refreshMs = refreshMs;
    this.statusEveryMs = statusEveryMs;
  }

  tick(jobs: Iterable<[string, JobState]>, fanout: LiveFanout | undefined, now: number): void {
    for (const [jobKey, st] of jobs) {
      if (fanout?.watchers(jobKey) && (st.roster.dirty || now - st.listSentAt >= this.refreshMs)) {
        st.listSentAt = now;
        fanout.publish(jobKey, 'identities', 'live:identities', st.roster.list(jobKey, now));
      }
      const total = st.roster.total;
      if (this.identityCounts && total !== st.statusCount && now - st.statusSentAt >= this.statusEveryMs) {
        st.statusCount = total;
        st.statusSentAt = now;
        this.identityCounts.setIdentities(jobKey, st.uid, total);
      }
    }
  }
}
