// The history service of a control plane: the writer (fed by the live ingest through HistorySink), the
// retention sweep, the stored-history reads and person search, wired so that the vector index follows every
// write and deletion. startHistory() publishes it for the API route handlers.
import { searchSeconds } from '../observability/service-metrics.ts';
import type { ModelsSpec, MultiEdgeInference } from '@mei/contracts';
import type { SqlClient } from '../store/db.ts';
import type { Logger } from '../log.ts';
import type { HnswOptions } from '../vector-index/index.ts';
import { EmbeddingIndexes } from './person-search/indexes.ts';
import { JobModels } from './person-search/embedders.ts';
import type { CheckedImage } from './person-search/image.ts';
import { decodeOffThread } from './person-search/decoder.ts';
import { PersonSearch, type SearchScope } from './person-search/search.ts';
import type { HistoryApi } from './api-types.ts';
import { publishHistory } from './context.ts';
import { RetentionSweeper } from './retention.ts';
import type { HistorySink } from './sink.ts';
import { HistoryStore, type TrackQuery } from './store.ts';
import { HistoryWriter, type HistoryWriterOptions } from './writer.ts';

export interface HistoryServiceOptions {
  sql: SqlClient;
  jobs: { get(key: string): MultiEdgeInference | undefined; list(): MultiEdgeInference[] };
  log: Logger;
  /** MEI_MODEL_DIR etc. for the query models. */
  env?: Record<string, string | undefined>;
  now?: () => number;
  writer?: Partial<Omit<HistoryWriterOptions, 'sql' | 'jobs' | 'log' | 'now'>>;
  retentionEveryMs?: number;
  index?: HnswOptions;
  /** onnxruntime threads of the query models (default 1: queries must not starve the live path). */
  threads?: number;
}

export class HistoryService implements HistoryApi {
  readonly writer: HistoryWriter;
  readonly store: HistoryStore;
  readonly indexes: EmbeddingIndexes;
  readonly models: JobModels;
  readonly search: PersonSearch;
  readonly sweeper: RetentionSweeper;
  private readonly stopIndexFeed: () => void;

  constructor(o: HistoryServiceOptions) {
    this.writer = new HistoryWriter({ ...o.writer, sql: o.sql, jobs: o.jobs, log: o.log, now: o.now });
    this.store = new HistoryStore(o.sql);
    this.indexes = new EmbeddingIndexes(o.sql, o.index);
    this.models = new JobModels({ env: o.env, threads: o.threads });
    this.search = new PersonSearch(this.store, this.indexes, this.models);
    this.stopIndexFeed = this.writer.onEmbeddings((rows) => this.indexes.upsert(rows));
    this.sweeper = new RetentionSweeper({
      sql: o.sql,
      jobs: () => o.jobs.list(),
      log: o.log,
      now: o.now,
      everyMs: o.retentionEveryMs,
      onEmbeddingsDeleted: (ids) => this.indexes.remove(ids),
    });
  }

  /** What the live ingest calls. */
  get sink(): HistorySink {
    return this.writer;
  }

  listTracks(q: TrackQuery) {
    return this.store.listTracks(q);
  }
  tracksPerHour(jobKey: string) {
    return this.store.tracksPerHour(jobKey);
  }
  getTrack(id: string) {
    return this.store.getTrack(id);
  }
  trackDetail(id: string) {
    return this.store.trackDetail(id);
  }
  thumbnail(trackId: string) {
    return this.store.thumbnail(trackId);
  }
  async searchImage(models: ModelsSpec, image: CheckedImage, detect: boolean, scope: SearchScope) {
    const end = searchSeconds.startTimer({ kind: 'image' });
    try {
      return await this.search.byImage(models, await decodeOffThread(image), detect, scope);
    } finally {
      end();
    }
  }
  async searchTrack(track: Parameters<PersonSearch['byTrack']>[0], scope: SearchScope) {
    const end = searchSeconds.startTimer({ kind: 'track' });
    try {
      return await this.search.byTrack(track, scope);
    } finally {
      end();
    }
  }

  async close(): Promise<void> {
    await this.sweeper.stop();
    await this.writer.close();
    this.stopIndexFeed();
    await this.models.close();
  }
}

/** Starts the service (and its retention schedule) and publishes it to the API routes. */
export function startHistory(o: HistoryServiceOptions): HistoryService {
  const h = new HistoryService(o);
  h.sweeper.start();
  // An early sweep, so history that expired while the server was down goes without waiting an hour.
  setTimeout(() => void h.sweeper.sweep().catch((err) => o.log.error('history: retention sweep failed:', err)), 60_000).unref();
  publishHistory(h);
  const close = h.close.bind(h);
  h.close = async () => {
    publishHistory(undefined);
    await close();
  };
  return h;
}
