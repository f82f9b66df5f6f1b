// The SQL of a history flush, one statement per table whatever the flush's size: rows go in as one JSON
// array read by jsonb_to_recordset with named, typed columns (the same on PGlite and PostgreSQL); embedding
// vectors, the bulk of a flush, go in PostgreSQL's binary COPY format where the client supports it (PGlite:
// parsing a 512-d real[] from text cost it ~1 ms per vector, most of the server's CPU at 40,000 obs/s), as
// array literals otherwise. Both store the same float4 values.
import type { SqlClient } from '../store/db.ts';
import { encodeCopyBinary } from '../store/copy-binary.ts';

export interface TrackRowWrite {
  job_uid: string;
  job_key: string;
  camera: string;
  session: string;
  local_id: number;
  global_id: string | null;
  start_ms: number;
  end_ms: number;
  frame_width: number;
  frame_height: number;
  keep_days: number;
}

export interface TrackRowId {
  id: number;
  job_uid: string;
  camera: string;
  session: string;
  local_id: number;
  /** New row (else an existing one was extended). */
  inserted: boolean;
}

/** Inserts or extends track rows; every row's id comes back. */
export async function upsertTracks(tx: SqlClient, rows: readonly TrackRowWrite[], seenAt: string): Promise<TrackRowId[]> {
  const ids = await tx.query<Omit<TrackRowId, 'id'> & { id: string }>(
    `INSERT INTO tracks (job_uid, job_key, camera, session, local_id, global_id, start_ms, end_ms, frame_width, frame_height, seen_at, keep_days)
     SELECT r.job_uid, r.job_key, r.camera, r.session, r.local_id, r.global_id, r.start_ms::bigint, r.end_ms::bigint, r.frame_width, r.frame_height, $2::timestamptz, r.keep_days
     FROM jsonb_to_recordset($1::jsonb) AS r(job_uid uuid, job_key text, camera text, session text, local_id int, global_id text,
                                            start_ms float8, end_ms float8, frame_width int, frame_height int, keep_days int)
     ON CONFLICT (job_uid, camera, session, local_id) DO UPDATE SET
       global_id = COALESCE(EXCLUDED.global_id, tracks.global_id),
       start_ms = LEAST(tracks.start_ms, EXCLUDED.start_ms),
       end_ms = GREATEST(tracks.end_ms, EXCLUDED.end_ms),
       frame_width = GREATEST(EXCLUDED.frame_width, tracks.frame_width),
       frame_height = GREATEST(EXCLUDED.frame_height, tracks.frame_height),
       seen_at = EXCLUDED.seen_at,
       keep_days = EXCLUDED.keep_days
     RETURNING id, job_uid::text AS job_uid, camera, session, local_id, (xmax = 0) AS inserted`,
    [JSON.stringify(rows), seenAt],
  );
  return ids.map((r) => ({ ...r, id: Number(r.id) }));
}

export interface SegmentWrite {
  track_id: number;
  start_ms: number;
  end_ms: number;
  /** [[tMs, x, y, w, h, score], ...] in time order. */
  points: unknown[];
}

/** Appends trajectory chunks (insert-only). */
export async function insertSegments(tx: SqlClient, rows: readonly SegmentWrite[]): Promise<void> {
  await tx.query(
    `INSERT INTO track_segments (track_id, start_ms, end_ms, points)
     SELECT r.track_id, r.start_ms::bigint, r.end_ms::bigint, r.points
     FROM jsonb_to_recordset($1::jsonb) AS r(track_id bigint, start_ms float8, end_ms float8, points jsonb)`,
    [JSON.stringify(rows)],
  );
}

export interface StoredRepresentative {
  id: number;
  trackId: number;
  tMs: number;
  vector: Float32Array;
}

/** The stored representatives of tracks (a restarted server meets tracks it wrote before). */
export async function loadRepresentatives(tx: SqlClient, trackIds: readonly number[], models: readonly string[]): Promise<StoredRepresentative[]> {
  const rows = await tx.query<{ id: string; track_id: string; t_ms: string; vector: number[] }>(
    `SELECT id, track_id, t_ms::text AS t_ms, vector FROM embeddings WHERE track_id = ANY($1::bigint[]) AND model = ANY($2::text[]) ORDER BY id`,
    [trackIds, models],
  );
  return rows.map((r) => ({ id: Number(r.id), trackId: Number(r.track_id), tMs: Number(r.t_ms), vector: Float32Array.from(r.vector) }));
}

export interface RepresentativeWrite {
  /** An existing row to rewrite; absent: a new row (its id is returned). */
  id?: number;
  trackId: number;
  tMs: number;
  model: string;
  vector: Float32Array;
}

const STAGING = 'history_embeddings_in';
const STAGING_COLUMNS = ['id', 'track_id', 't_ms', 'model', 'dim', 'vector'] as const;

/**
 * Inserts new representatives and rewrites changed ones in one statement (ids of new rows are taken from the
 * table's sequence first, so both kinds are one upsert by id). Returns the ids, in `rows` order. `tx` must be
 * a transaction: the staging table empties at every commit.
 */
export async function writeRepresentatives(tx: SqlClient, rows: readonly RepresentativeWrite[]): Promise<number[]> {
  const fresh = rows.filter((r) => r.id === undefined).length;
  const newIds = fresh
    ? (await tx.query<{ id: string }>(`SELECT nextval(pg_get_serial_sequence('embeddings', 'id')) AS id FROM generate_series(1, $1::int)`, [fresh])).map((r) => Number(r.id))
    : [];
  let next = 0;
  const ids = rows.map((r) => r.id ?? newIds[next++]);
  const upsert = (source: string) =>
    `INSERT INTO embeddings (id, track_id, t_ms, model, dim, vector) SELECT r.id, r.track_id, r.t_ms::bigint, r.model, r.dim, r.vector FROM ${source}
     ON CONFLICT (id) DO UPDATE SET t_ms = EXCLUDED.t_ms, vector = EXCLUDED.vector`;
  if (tx.copyBinary) {
    // A session-local staging table, emptied by every commit (PGlite has one session).
    await tx.query(`CREATE TEMP TABLE IF NOT EXISTS ${STAGING} (id bigint, track_id bigint, t_ms bigint, model text, dim int, vector real[]) ON COMMIT DELETE ROWS`);
    await tx.copyBinary(
      STAGING,
      STAGING_COLUMNS,
      encodeCopyBinary(
        ['int8', 'int8', 'int8', 'text', 'int4', 'float4[]'],
        rows.map((r, i) => [ids[i], r.trackId, Math.round(r.tMs), r.model, r.vector.length, r.vector]),
      ),
    );
    await tx.query(upsert(`${STAGING} r`));
  } else {
    await tx.query(
      upsert(`(SELECT x.id, x.track_id, x.t_ms, x.model, x.dim, x.vector::real[] AS vector
               FROM jsonb_to_recordset($1::jsonb) AS x(id bigint, track_id bigint, t_ms float8, model text, dim int, vector text)) r`),
      [JSON.stringify(rows.map((r, i) => ({ id: ids[i], track_id: r.trackId, t_ms: r.tMs, model: r.model, dim: r.vector.length, vector: realArrayLiteral(r.vector) })))],
    );
  }
  return ids;
}

/** Identity merges relabel every stored track of the merged identity (not only those in memory). */
export async function relabelIdentity(tx: SqlClient, jobUid: string, from: string, into: string): Promise<void> {
  await tx.query(`UPDATE tracks SET global_id = $3 WHERE job_uid = $1::uuid AND global_id = $2`, [jobUid, from, into]);
}

export interface ThumbnailRowWrite {
  /** The track's thumbnail row to replace; absent: a new row (its id is returned). */
  id?: number;
  trackId: number;
  tMs: number;
  width: number;
  height: number;
  jpeg: Uint8Array;
  keepDays: number;
}

/** Writes a track's thumbnail (one row per track, replaced in place); returns its row id. */
export async function writeThumbnail(tx: SqlClient, t: ThumbnailRowWrite, createdAt: string): Promise<number> {
  if (t.id !== undefined) {
    await tx.query(`UPDATE thumbnails SET t_ms = $2, width = $3, height = $4, jpeg = $5, created_at = $6::timestamptz, keep_days = $7 WHERE id = $1`, [
      t.id,
      Math.round(t.tMs),
      t.width,
      t.height,
      Buffer.from(t.jpeg),
      createdAt,
      t.keepDays,
    ]);
    return t.id;
  }
  const [r] = await tx.query<{ id: string }>(
    `INSERT INTO thumbnails (track_id, t_ms, width, height, jpeg, created_at, keep_days) VALUES ($1, $2, $3, $4, $5, $6::timestamptz, $7) RETURNING id`,
    [t.trackId, Math.round(t.tMs), t.width, t.height, Buffer.from(t.jpeg), createdAt, t.keepDays],
  );
  return Number(r.id);
}

/**
 * A vector as a PostgreSQL array literal ("{0.1,...}"), carried as one JSON string and cast with ::real[]:
 * the same numbers as a JSON array (the same decimal strings, rounded to real alike), but parsed by one
 * array input call instead of a set-returning function and a cast per element.
 */
function realArrayLiteral(v: ArrayLike<number>): string {
  return `{${Array.prototype.join.call(v, ',')}}`;
}
