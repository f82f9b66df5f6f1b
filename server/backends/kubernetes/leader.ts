// Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it: the leader renews
// renewTime every retryPeriod; a candidate takes the lease once it has seen the same record unchanged for
// leaseDuration (measured on its own clock, so clock skew between servers does not matter); every write
// carries the resourceVersion it read, so two candidates can never both win. Only the leader runs the
// controllers. A leader that cannot renew for renewDeadline stops leading; stop() releases the lease so a
// standby takes over at its next retry instead of after leaseDuration.
//
// With `pod` set, the leader also labels its own Pod `mei.sedna.io/leader=true` once onStartedLeading has
// finished (controllers started, caches synced), removes the label when it stops leading or starts as a
// candidate, and removes it from any other pod still carrying it (a leader cut off from the apiserver cannot
// remove its own): the Service selects that label, so agents and browsers reach the replica whose controllers
// and agent registry are live. Renewal goes on while onStartedLeading runs.
//
// Every apiserver call is bounded (an attempt by what is left of the renew deadline, a label patch by the renew
// deadline): behind a partition that drops packets a request can hang, and a leader stuck awaiting its renewal
// would never step down while a standby takes the expired lease (two leaders). A leader that lost the lease
// stops serving first (onStoppedLeading) and only then tries to remove its label.
import { CoordinationV1Api, CoreV1Api, PatchStrategy, V1MicroTime, setHeaderOptions, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import type { Logger } from '../../log.ts';
import { statusOf } from './errors.ts';

export const LEADER_LABEL = 'mei.sedna.io/leader';

/** candidate: not leading; starting: holds the lease, onStartedLeading running; leader: started (and labelled). */
export type LeaderRole = 'candidate' | 'starting' | 'leader';

/** What /api/health reports of this replica's part (readiness: the Service sends traffic only to ready pods). */
export interface ReplicaHealth {
  ready: boolean;
  /** single: no election; standby: another replica leads (never selected by the Service: no leader label). */
  role: 'single' | 'standby' | 'starting' | 'leader';
  message?: string;
}

export interface LeaderElectionOptions {
  namespace: string;
  /** Lease name (default mei-server). */
  name?: string;
  /** This candidate (pod name + a random suffix is typical). */
  identity: string;
  /** How long a lease is valid without renewal (default 15 s). */
  leaseDurationSeconds?: number;
  /** The leader gives up if it has not renewed for this long (default 10 s; below the lease duration). */
  renewDeadlineMs?: number;
  /** How often to renew, and how often a candidate tries (default 2 s). */
  retryPeriodMs?: number;
  onStartedLeading(): void | Promise<void>;
  /**
   * 'lost': the lease could not be renewed or was taken (the caller should stop serving and exit; this may come
   * while onStartedLeading still runs, e.g. its first list hangs behind a partition); 'stopped': stop() released it.
   */
  onStoppedLeading(reason: 'lost' | 'stopped'): void | Promise<void>;
  /** Someone (maybe this candidate) holds the lease now. */
  onNewLeader?(identity: string): void;
  /** Label this pod while leading. */
  pod?: { namespace: string; name: string };
  log: Logger;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });
/** Up to 20 % later, so candidates that started together do not keep colliding. */
const jitter = (ms: number) => ms * (1 + Math.random() * 0.2);

export class CallTimeout extends Error {
  constructor(what: string, ms: number) {
    super(`${what}: no answer from the apiserver within ${Math.round(ms)} ms`);
  }
}

/** `p`, or a CallTimeout after `ms` (the request itself may still finish: its result is then ignored). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (t = setTimeout(() => reject(new CallTimeout(what, ms)), Math.max(0, ms))));
  return Promise.race([p, timeout]).finally(() => clearTimeout(t));
}

export class LeaderElector {
  private readonly api: CoordinationV1Api;
  private readonly core: CoreV1Api;
  private readonly leaseName: string;
  private readonly leaseSeconds: number;
  private readonly renewDeadlineMs: number;
  private readonly retryMs: number;
  private readonly abort = new AbortController();
  private loop?: Promise<void>;
  private leading = false;
  private started = false;
  private renewedAt = 0;
  /** The last lease record seen, and when (local clock) it last changed. */
  private observed?: { key: string; holder: string; rv: string };
  private observedAt = 0;
  private lastLeader = '';

  constructor(
    kc: KubeConfig,
    private readonly options: LeaderElectionOptions,
  ) {
    this.api = kc.makeApiClient(CoordinationV1Api);
    this.core = kc.makeApiClient(CoreV1Api);
    this.leaseName = options.name ?? 'mei-server';
    this.leaseSeconds = options.leaseDurationSeconds ?? 15;
    this.renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
    this.retryMs = options.retryPeriodMs ?? 2_000;
    if (this.renewDeadlineMs >= this.leaseSeconds * 1000) throw new Error('renewDeadlineMs must be shorter than leaseDurationSeconds');
    if (this.retryMs >= this.renewDeadlineMs) throw new Error('retryPeriodMs must be shorter than renewDeadlineMs');
  }

  get isLeader(): boolean {
    return this.leading;
  }

  get role(): LeaderRole {
    return !this.leading ? 'candidate' : this.started ? 'leader' : 'starting';
  }

  /**
   * A leader is ready once its controllers run and while its lease is fresh: one that has not renewed for half
   * its renew deadline (apiserver unreachable) turns unready before it steps down, even if it cannot remove its
   * label. A standby stays ready (it is alive and would take over): Deployments roll only onto ready pods, and
   * the Service reaches it only through the leader label.
   */
  health(): ReplicaHealth {
    if (!this.leading) return { ready: true, role: 'standby' };
    if (!this.started) return { ready: false, role: 'starting', message: 'leader: starting the controllers and syncing their caches' };
    const since = Date.now() - this.renewedAt;
    if (since > this.renewDeadlineMs / 2) return { ready: false, role: 'leader', message: `leader: lease not renewed for ${since} ms (apiserver unreachable?)` };
    return { ready: true, role: 'leader' };
  }

  /** Holder of the lease as last observed ('' when free). */
  get leader(): string {
    return this.lastLeader;
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** Stops campaigning; a leader stops leading and releases the lease. */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }

  /** Test hook for a crash: stop renewing without releasing the lease or calling onStoppedLeading. */
  async abandon(): Promise<void> {
    this.crashed = true;
    this.abort.abort();
    await this.loop;
  }
  private crashed = false;

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    await this.setPodLabel(false);
    while (!signal.aborted) {
      // Candidate: try until the lease is ours.
      while (!signal.aborted && !(await this.attempt(this.renewDeadlineMs))) await sleep(jitter(this.retryMs), signal);
      if (signal.aborted) break;
      this.leading = true;
      this.renewedAt = Date.now();
      this.options.log.info(`leader election: ${this.options.identity} is the leader (lease ${this.options.namespace}/${this.leaseName})`);
      // The label (and so the Service's traffic) only once the controllers run; renewal goes on meanwhile.
      const starting = this.call(() => this.options.onStartedLeading()).then(async () => {
        if (!this.leading) return;
        this.started = true;
        await this.setPodLabel(true);
        await this.clearStaleLabels();
      });
      // Leader: renew until we cannot for renewDeadline, or someone else holds the lease.
      while (!signal.aborted) {
        await sleep(this.retryMs, signal);
        if (signal.aborted) break;
        // The attempt may take only what is left of the renew deadline: past it this replica must not lead.
        // The renewal counts from when it was sent (the record carries that time), not from a slow answer.
        const sent = Date.now();
        if (await this.attempt(this.renewedAt + this.renewDeadlineMs - sent)) this.renewedAt = sent;
        else if (this.lastLeader !== this.options.identity || Date.now() - this.renewedAt > this.renewDeadlineMs) break;
      }
      this.leading = false;
      this.started = false;
      if (this.crashed) return;
      if (signal.aborted) {
        await starting;
        await this.release();
        await this.setPodLabel(false);
        await this.call(() => this.options.onStoppedLeading('stopped'));
        continue;
      }
      this.options.log.warn(`leader election: ${this.options.identity} lost the lease (last renewed ${Date.now() - this.renewedAt} ms ago)`);
      // Stop serving at once (a standby may take the lease as soon as it expires); the label is best effort:
      // the apiserver may be unreachable, and the next leader removes a stale one.
      await this.call(() => this.options.onStoppedLeading('lost'));
      await this.setPodLabel(false);
      await starting;
    }
  }

  private async call(fn: () => void | Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.options.log.error('leader election callback failed:', err);
    }
  }

  /** One bounded attempt: a hung request counts as a failed one. */
  private async attempt(budgetMs: number): Promise<boolean> {
    if (budgetMs <= 0) return false;
    try {
      return await within(this.tryAcquireOrRenew(), budgetMs, 'lease');
    } catch (err) {
      return this.failed(this.leading ? 'renew' : 'acquire', err);
    }
  }

  /** One attempt: create, take over an expired or free lease, or renew ours. */
  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = new V1MicroTime();
    const { namespace } = this.options;
    let lease: V1Lease;
    try {
      lease = await this.api.readNamespacedLease({ name: this.leaseName, namespace });
    } catch (err) {
      if (statusOf(err)?.code !== 404) return this.failed('read', err);
      try {
        const created = await this.api.createNamespacedLease({
          namespace,
          body: {
            metadata: { name: this.leaseName, namespace },
            spec: { holderIdentity: this.options.identity, leaseDurationSeconds: this.leaseSeconds, acquireTime: now, renewTime: now, leaseTransitions: 0 },
          },
        });
        this.observe(created);
        return true;
      } catch (e) {
        return this.failed('create', e);
      }
    }
    this.observe(lease);
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    const duration = (spec.leaseDurationSeconds ?? this.leaseSeconds) * 1000;
    if (holder && holder !== this.options.identity && Date.now() < this.observedAt + duration) return false;
    const taking = holder !== this.options.identity;
    const body: V1Lease = {
      ...lease,
      spec: {
        ...spec,
        holderIdentity: this.options.identity,
        leaseDurationSeconds: this.leaseSeconds,
        renewTime: now,
        acquireTime: taking ? now : spec.acquireTime,
        leaseTransitions: (spec.leaseTransitions ?? 0) + (taking && holder ? 1 : 0),
      },
    };
    try {
      // The resourceVersion read above makes this a compare-and-swap: a concurrent writer gets 409.
      this.observe(await this.api.replaceNamespacedLease({ name: this.leaseName, namespace, body }));
      return true;
    } catch (err) {
      return this.failed(taking ? 'acquire' : 'renew', err);
    }
  }

  private failed(what: string, err: unknown): false {
    if (err instanceof CallTimeout) {
      this.options.log.warn(`leader election: ${what} lease ${this.options.namespace}/${this.leaseName}: ${err.message}`);
      return false;
    }
    const s = statusOf(err);
    if (s?.code !== 409) this.options.log.warn(`leader election: ${what} lease ${this.options.namespace}/${this.leaseName} failed: ${s ? `${s.code} ${s.message ?? ''}` : (err as Error).message}`);
    return false;
  }

  private observe(lease: V1Lease): void {
    const holder = lease.spec?.holderIdentity ?? '';
    const renew = lease.spec?.renewTime;
    const key = `${holder}|${renew instanceof Date ? renew.toISOString() : String(renew)}|${lease.spec?.leaseDurationSeconds}`;
    if (this.observed?.key !== key) this.observedAt = Date.now();
    this.observed = { key, holder, rv: lease.metadata?.resourceVersion ?? '' };
    if (holder !== this.lastLeader) {
      this.lastLeader = holder;
      if (holder) this.options.onNewLeader?.(holder);
    }
  }

  /** Gives the lease up (only if still ours), so a standby need not wait for it to expire. */
  private async release(): Promise<void> {
    try {
      const lease = await within(this.api.readNamespacedLease({ name: this.leaseName, namespace: this.options.namespace }), this.renewDeadlineMs, 'release');
      if (lease.spec?.holderIdentity !== this.options.identity) return;
      const now = new V1MicroTime();
      const body = { ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: now, acquireTime: now } };
      await within(this.api.replaceNamespacedLease({ name: this.leaseName, namespace: this.options.namespace, body }), this.renewDeadlineMs, 'release');
      this.lastLeader = '';
      this.options.log.info(`leader election: ${this.options.identity} released the lease`);
    } catch (err) {
      this.failed('release', err);
    }
  }

  private async setPodLabel(leading: boolean, name = this.options.pod?.name): Promise<void> {
    const pod = this.options.pod;
    if (!pod || !name) return;
    try {
      const patch = this.core.patchNamespacedPod(
        { name, namespace: pod.namespace, body: { metadata: { labels: { [LEADER_LABEL]: leading ? 'true' : null } } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
      await within(patch, this.renewDeadlineMs, `label pod ${pod.namespace}/${name}`);
    } catch (err) {
      const s = statusOf(err);
      if (s?.code === 404 && name !== pod.name) return; // gone meanwhile
      this.options.log.warn(`leader election: cannot ${leading ? 'set' : 'clear'} label ${LEADER_LABEL} on pod ${pod.namespace}/${name}: ${s ? `${s.code} ${s.message ?? ''}` : (err as Error).message}`);
    }
  }

  /** The new leader takes the label off every other pod: one that led before may not have been able to. */
  private async clearStaleLabels(): Promise<void> {
    const pod = this.options.pod;
    if (!pod) return;
    try {
      // Only this server's replicas: the pods sharing its app.kubernetes.io/name and /instance labels.
      const read = this.core.readNamespacedPod({ name: pod.name, namespace: pod.namespace });
      const own = (await within(read, this.renewDeadlineMs, 'read own pod')).metadata?.labels ?? {};
      const same = ['app.kubernetes.io/name', 'app.kubernetes.io/instance'].filter((k) => own[k]).map((k) => `${k}=${own[k]}`);
      const list = this.core.listNamespacedPod({ namespace: pod.namespace, labelSelector: [`${LEADER_LABEL}=true`, ...same].join(',') });
      const pods = await within(list, this.renewDeadlineMs, 'list labelled pods');
      for (const p of pods.items) {
        const name = p.metadata?.name;
        if (name && name !== pod.name && this.leading) {
          this.options.log.info(`leader election: removing the stale ${LEADER_LABEL} label from pod ${pod.namespace}/${name}`);
          await this.setPodLabel(false, name);
        }
      }
    } catch (err) {
      const s = statusOf(err);
      this.options.log.warn(`leader election: cannot list pods labelled ${LEADER_LABEL} in ${pod.namespace}: ${s ? `${s.code} ${s.message ?? ''}` : (err as Error).message}`);
    }
  }
}

