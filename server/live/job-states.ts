// The live view's per-job state and its lifetime: one state per job while its uid and camera layout stay the
// same (a recreated job, or new cameras / crossCamera settings, start from scratch, identities included), camera
// runs (a new session numbers seqs and local ids afresh), and forgetting a deleted job.
import { createHash } from 'node:crypto';
import type { LiveFrame, LivePreview, MultiEdgeInference } from '@mei/contracts';
import type { Logger } from '../log.ts';
import type { JobIdentities } from '../identity/index.ts';
import { IdentityRoster } from './identity-roster.ts';
import { ThumbnailBoard } from './thumbnail-board.ts';

export interface JobState {
  uid: string;
  /** Cameras, overlaps and crossCamera settings the identity service was built from. */
  fingerprint: string;
  roster: IdentityRoster;
  latestFrame: Map<string, LiveFrame>;
  latestPreview: Map<string, LivePreview>;
  /** Newest person crop per identity (and crops waiting for their track's identity). */
  thumbs: ThumbnailBoard;
  /** Per camera: timestamp of the newest frame published (resent or late frames are not drawn again). */
  publishedTs: Map<string, number>;
  /** Per camera: highest seq queued, so a backlog (agent reconnect) publishes only its newest frame. */
  queuedSeq: Map<string, number>;
  /** Per camera: the run (ObservationBatch.session) its local track ids belong to. */
  sessions: Map<string, string>;
  /** Per camera: when a browser last asked for a snapshot (privacy.preview 'snapshot'). */
  snapshotAsked: Map<string, number>;
  listSentAt: number;
  statusCount: number;
  statusSentAt: number;
}

export class LiveJobs {
  private readonly byKey = new Map<string, JobState>();

  constructor(
    private readonly identities: JobIdentities,
    private readonly log: Logger,
  ) {}

  /** The job's live state; a recreated job (new uid) or a new camera layout starts from scratch. */
  state(job: MultiEdgeInference): JobState {
    const key = `${job.metadata.namespace}/${job.metadata.name}`;
    const fingerprint = layoutFingerprint(job);
    let st = this.byKey.get(key);
    if (st && st.uid === job.metadata.uid && st.fingerprint === fingerprint) return st;
    if (st) {
      this.identities.delete(key);
      this.log.info(`live: ${key} ${st.uid !== job.metadata.uid ? 'was recreated' : 'changed its cameras or crossCamera settings'}; identities start afresh`);
    }
    st = {
      uid: job.metadata.uid,
      fingerprint,
      roster: new IdentityRoster(),
      latestFrame: new Map(),
      latestPreview: new Map(),
      thumbs: new ThumbnailBoard(key),
      publishedTs: new Map(),
      queuedSeq: st?.uid === job.metadata.uid ? st.queuedSeq : new Map(),
      sessions: new Map(),
      snapshotAsked: new Map(),
      listSentAt: 0,
      statusCount: 0,
      statusSentAt: 0,
    };
    this.byKey.set(key, st);
    return st;
  }

  /** A batch's camera run: a new run numbers seqs and local track ids afresh, so the old run's ids are forgotten. */
  cameraRun(st: JobState, jobKey: string, camera: string, session: string | undefined): void {
    if (session === undefined) return;
    const prev = st.sessions.get(camera);
    if (prev !== undefined && prev !== session) {
      this.identities.resetCamera(jobKey, camera);
      st.thumbs.resetCamera(camera, session);
    }
    st.sessions.set(camera, session);
  }

  /** The job was deleted: its state and identities go, unless a job of the same name already replaced it. */
  deleted(key: string, uid: string): void {
    const st = this.byKey.get(key);
    if (st && st.uid === uid) {
      this.byKey.delete(key);
      this.identities.delete(key);
    }
  }

  entries(): IterableIterator<[string, JobState]> {
    return this.byKey.entries();
  }
}

/** Fingerprints per spec object: the informer hands out the same object until the job changes. */
const fingerprints = new WeakMap<object, string>();

/** What the identity service is built from: a change here restarts it. */
function layoutFingerprint(job: MultiEdgeInference): string {
  let fp = fingerprints.get(job.spec);
  if (fp === undefined) {
    const cams = job.spec.cameras.map((c) => ({ name: c.name, overlaps: c.overlaps, source: c.source, roi: c.roi }));
    fp = createHash('sha1').update(JSON.stringify({ cams, cc: job.spec.crossCamera })).digest('hex');
    fingerprints.set(job.spec, fp);
  }
  return fp;
}
