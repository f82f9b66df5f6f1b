// Reads of the stored history: track lists with filters, one track's trajectory, thumbnails, and the rows
// person search needs (tracks behind embedding ids, an identity's tracks, a track's representatives).
// Raw SQL on the store's SqlClient, so it runs the same on PGlite and PostgreSQL.
import { TRACK_ID_PATTERN, type StoredTrack, type TrackDetail, type TrajectoryPoint } from '@mei/contracts';
import type { SqlClient } from '../store/db.ts';

interface TrackRow {
  id: string | number;
  job_uid: string;
  job_key: string;
  camera: string;
  local_id: number;
  global_id: string | null;
  start_ms: string | number;
  end_ms: string | number;
  frame_width: number;
  frame_height: number;
  has_thumb: boolean;
}

const TRACK_COLUMNS = `t.id, t.job_uid::text AS job_uid, t.job_key, t.camera, t.local_id, t.global_id, t.start_ms, t.end_ms, t.frame_width, t.frame_height,
  EXISTS (SELECT 1 FROM thumbnails th WHERE th.track_id = t.id) AS has_thumb`;

export function toStoredTrack(r: TrackRow): StoredTrack {
  return {
    id: String(r.id),
    jobKey: r.job_key,
    jobUid: r.job_uid,
    camera: r.camera,
    localId: r.local_id,
    globalId: r.global_id,
    startMs: Number(r.start_ms),
    endMs: Number(r.end_ms),
    frameWidth: r.frame_width,
    frameHeight: r.frame_height,
    thumbnail: r.has_thumb,
  };
}

export interface TrackQuery {
  jobKey: string;
  cameras?: readonly string[];
  fromMs?: number;
  toMs?: number;
  limit?: number;
  /** Tracks with an id below this (paging, newest first). */
  before?: string;
}

/** A track id as the API spells it: a positive decimal integer. */
export const isTrackId = (s: unknown): s is string => typeof s === 'string' && TRACK_ID_PATTERN.test(s);

export class HistoryStore {
  constructor(private readonly sql: SqlClient) {}

  /** Tracks of a job (by key: all its runs), newest first, overlapping the time range. */
  async listTracks(q: TrackQuery): Promise<{ items: StoredTrack[]; cameras: string[]; next?: string }> {
    const limit = q.limit ?? 100;
    const rows = await this.sql.query<TrackRow>(
      `SELECT ${TRACK_COLUMNS} FROM tracks t
       WHERE t.job_key = $1 AND ($2::text[] IS NULL OR t.camera = ANY($2::text[]))
         AND ($3::float8 IS NULL OR t.end_ms >= $3::float8) AND ($4::float8 IS NULL OR t.start_ms <= $4::float8)
         AND ($5::bigint IS NULL OR t.id < $5::bigint)
       ORDER BY t.id DESC LIMIT $6`,
      [q.jobKey, q.cameras ? [...q.cameras] : null, q.fromMs ?? null, q.toMs ?? null, q.before ?? null, limit + 1],
    );
    const cams = await this.sql.query<{ camera: string }>(`SELECT DISTINCT camera FROM tracks WHERE job_key = $1 ORDER BY camera`, [q.jobKey]);
    const items = rows.slice(0, limit).map(toStoredTrack);
    return { items, cameras: cams.map((c) => c.camera), ...(rows.length > limit ? { next: items[items.length - 1].id } : {}) };
  }

  /** Tracks that started in each hour per camera (source clock), the newest `hours` hours that have any. */
  async tracksPerHour(jobKey: string, hours = 168): Promise<Array<{ camera: string; hourStartMs: number; tracks: number }>> {
    const rows = await this.sql.query<{ camera: string; hour: string; n: string }>(
      `SELECT camera, floor(start_ms / 3600000)::bigint AS hour, count(*) AS n FROM tracks
       WHERE job_key = $1 AND start_ms >= (SELECT max(start_ms) FROM tracks WHERE job_key = $1) - $2::bigint * 3600000
       GROUP BY camera, hour ORDER BY hour, camera`,
      [jobKey, hours],
    );
    return rows.map((r) => ({ camera: r.camera, hourStartMs: Number(r.hour) * 3_600_000, tracks: Number(r.n) }));
  }

  async getTrack(id: string): Promise<StoredTrack | undefined> {
    const [r] = await this.sql.query<TrackRow>(`SELECT ${TRACK_COLUMNS} FROM tracks t WHERE t.id = $1::bigint`, [id]);
    return r ? toStoredTrack(r) : undefined;
  }

  /** The track with its whole trajectory, in time order. */
  async trackDetail(id: string): Promise<TrackDetail | undefined> {
    const track = await this.getTrack(id);
    if (!track) return undefined;
    const segs = await this.sql.query<{ points: TrajectoryPoint[] | string }>(`SELECT points FROM track_segments WHERE track_id = $1::bigint ORDER BY start_ms, id`, [id]);
    const points = segs.flatMap((s) => (typeof s.points === 'string' ? (JSON.parse(s.points) as TrajectoryPoint[]) : s.points));
    points.sort((a, b) => a[0] - b[0]);
    return { ...track, points };
  }

  async thumbnail(trackId: string): Promise<{ jpeg: Uint8Array; width: number; height: number } | undefined> {
    const [r] = await this.sql.query<{ jpeg: Uint8Array; width: number; height: number }>(
      `SELECT jpeg, width, height FROM thumbnails WHERE track_id = $1::bigint ORDER BY id DESC LIMIT 1`,
      [trackId],
    );
    return r ? { jpeg: new Uint8Array(r.jpeg), width: r.width, height: r.height } : undefined;
  }

  /** A track's representative embeddings. */
  async trackEmbeddings(trackId: string): Promise<Array<{ id: number; model: string; vector: Float32Array }>> {
    const rows = await this.sql.query<{ id: string; model: string; vector: number[] }>(`SELECT id, model, vector FROM embeddings WHERE track_id = $1::bigint ORDER BY id`, [trackId]);
    return rows.map((r) => ({ id: Number(r.id), model: r.model, vector: Float32Array.from(r.vector) }));
  }

  /** The job uids stored under a job key (a job deleted and created again has several). */
  async jobUids(jobKey: string): Promise<string[]> {
    const rows = await this.sql.query<{ job_uid: string }>(`SELECT DISTINCT job_uid::text AS job_uid FROM tracks WHERE job_key = $1`, [jobKey]);
    return rows.map((r) => r.job_uid);
  }

  /** The model of a job's stored embeddings (the most used one, if it changed). */
  async jobModel(jobKey: string): Promise<string | undefined> {
    const [r] = await this.sql.query<{ model: string }>(
      `SELECT e.model FROM embeddings e JOIN tracks t ON t.id = e.track_id WHERE t.job_key = $1 GROUP BY e.model ORDER BY count(*) DESC LIMIT 1`,
      [jobKey],
    );
    return r?.model;
  }

  /**
   * Candidate tracks for a search: the tracks behind the given embedding ids, plus every track sharing a
   * global identity with one of them, filtered by cameras and time; with all their embeddings of the model.
   */
  async candidates(
    embeddingIds: readonly number[],
    model: string,
    f: { cameras?: readonly string[]; fromMs?: number; toMs?: number },
  ): Promise<Array<StoredTrack & { vectors: Float32Array[] }>> {
    if (!embeddingIds.length) return [];
    const rows = await this.sql.query<TrackRow & { vectors: number[][] | null }>(
      `WITH hit AS (SELECT DISTINCT e.track_id FROM embeddings e WHERE e.id IN (SELECT jsonb_array_elements_text($1::jsonb)::bigint)),
       ident AS (SELECT DISTINCT t.job_uid, t.global_id FROM tracks t JOIN hit ON hit.track_id = t.id WHERE t.global_id IS NOT NULL),
       cand AS (
         SELECT t.* FROM tracks t JOIN hit ON hit.track_id = t.id
         UNION SELECT t.* FROM tracks t JOIN ident i ON i.job_uid = t.job_uid AND i.global_id = t.global_id)
       SELECT ${TRACK_COLUMNS},
         (SELECT json_agg(e.vector ORDER BY e.id) FROM embeddings e WHERE e.track_id = t.id AND e.model = $2) AS vectors
       FROM cand t
       WHERE ($3::text[] IS NULL OR t.camera = ANY($3::text[]))
         AND ($4::float8 IS NULL OR t.end_ms >= $4::float8) AND ($5::float8 IS NULL OR t.start_ms <= $5::float8)`,
      [JSON.stringify(embeddingIds), model, f.cameras ? [...f.cameras] : null, f.fromMs ?? null, f.toMs ?? null],
    );
    return rows.map((r) => {
      const vectors = typeof r.vectors === 'string' ? (JSON.parse(r.vectors) as number[][]) : (r.vectors ?? []);
      return { ...toStoredTrack(r), vectors: vectors.map((v) => Float32Array.from(v)) };
    });
  }
}
