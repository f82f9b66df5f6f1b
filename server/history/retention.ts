// Retention: a scheduled sweep deletes history older than the job's spec.retention. Tracks (with their
// trajectory and embeddings, by cascade) expire tracksDays after their last write (seen_at), thumbnails
// thumbnailsDays after they were taken. Running jobs' current specs decide; a deleted job's rows keep the
// days they were written with (keep_days), so its history still goes away.
import { withDefaults, type MultiEdgeInference } from '@mei/contracts';
import type { SqlClient } from '../store/db.ts';
import type { Logger } from '../log.ts';

export interface RetentionOptions {
  sql: SqlClient;
  /** The jobs that exist now (their specs' retention applies to their rows). */
  jobs: () => Iterable<MultiEdgeInference>;
  log: Logger;
  now?: () => number;
  /** How often the sweep runs (default hourly). */
  everyMs?: number;
  /** Rows deleted per statement, so one sweep never holds the database for long. */
  batch?: number;
  /** Called with the ids of deleted embeddings (the search index drops them). */
  onEmbeddingsDeleted?: (ids: number[]) => void;
}

export interface SweepResult {
  tracks: number;
  embeddings: number;
  thumbnails: number;
}

const DAY_MS = 86_400_000;

export class RetentionSweeper {
  private timer?: NodeJS.Timeout;
  private running?: Promise<SweepResult>;
  private readonly now: () => number;

  constructor(private readonly options: RetentionOptions) {
    this.now = options.now ?? Date.now;
  }

  start(): void {
    if (this.timer) return;
    const every = this.options.everyMs ?? 3_600_000;
    this.timer = setInterval(() => void this.sweep().catch((err) => this.options.log.error('history: retention sweep failed:', err)), every);
    this.timer.unref();
  }

  stop(): Promise<unknown> | undefined {
    clearInterval(this.timer);
    this.timer = undefined;
    return this.running?.catch(() => undefined);
  }

  /** One sweep (concurrent calls share it). */
  sweep(): Promise<SweepResult> {
    return (this.running ??= this.sweepOnce().finally(() => (this.running = undefined)));
  }

  private async sweepOnce(): Promise<SweepResult> {
    const now = this.now();
    const current = [...this.options.jobs()].map((j) => {
      const r = withDefaults('retention', j.spec.retention);
      return { job_uid: j.metadata.uid, tracks_days: r.tracksDays, thumbnails_days: r.thumbnailsDays };
    });
    const params = [new Date(now).toISOString(), JSON.stringify(current), this.options.batch ?? 2000];
    const cur = `cur AS (SELECT * FROM jsonb_to_recordset($2::jsonb) AS r(job_uid uuid, tracks_days int, thumbnails_days int))`;
    const out: SweepResult = { tracks: 0, embeddings: 0, thumbnails: 0 };
    for (;;) {
      const r = await this.options.sql.transaction(async (tx) => {
        const doomed = await tx.query<{ id: string }>(
          `WITH ${cur} SELECT tr.id FROM tracks tr LEFT JOIN cur ON cur.job_uid = tr.job_uid
           WHERE tr.seen_at < $1::timestamptz - make_interval(days => COALESCE(cur.tracks_days, tr.keep_days)) ORDER BY tr.id LIMIT $3`,
          params,
        );
        if (!doomed.length) return { tracks: 0, embeddings: [] as number[] };
        const ids = JSON.stringify(doomed.map((d) => d.id));
        // Embedding ids first (a cascade would not tell which rows went), then the tracks (segments and thumbnails cascade).
        const emb = await tx.query<{ id: string }>(`DELETE FROM embeddings WHERE track_id IN (SELECT jsonb_array_elements_text($1::jsonb)::bigint) RETURNING id`, [ids]);
        await tx.query(`DELETE FROM tracks WHERE id IN (SELECT jsonb_array_elements_text($1::jsonb)::bigint)`, [ids]);
        return { tracks: doomed.length, embeddings: emb.map((e) => Number(e.id)) };
      });
      out.tracks += r.tracks;
      out.embeddings += r.embeddings.length;
      if (r.embeddings.length) this.options.onEmbeddingsDeleted?.(r.embeddings);
      if (r.tracks < (params[2] as number)) break;
    }
    for (;;) {
      const rows = await this.options.sql.query<{ id: string }>(
        `WITH ${cur}, doomed AS (
           SELECT th.id FROM thumbnails th JOIN tracks tr ON tr.id = th.track_id LEFT JOIN cur ON cur.job_uid = tr.job_uid
           WHERE th.created_at < $1::timestamptz - make_interval(days => COALESCE(cur.thumbnails_days, th.keep_days)) ORDER BY th.id LIMIT $3)
         DELETE FROM thumbnails WHERE id IN (SELECT id FROM doomed) RETURNING id`,
        params,
      );
      out.thumbnails += rows.length;
      if (rows.length < (params[2] as number)) break;
    }
    if (out.tracks || out.thumbnails) this.options.log.info(`history: retention removed ${out.tracks} tracks (${out.embeddings} embeddings) and ${out.thumbnails} thumbnails`);
    return out;
  }

  /** Milliseconds in a day, for callers that move an injected clock. */
  static readonly DAY_MS = DAY_MS;
}
