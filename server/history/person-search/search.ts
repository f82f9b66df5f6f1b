// Person search over the stored history: query embeddings (from an image, or a stored track's
// representatives) -> nearest stored embeddings of the same model in the vector index (filtered by job,
// cameras and time) -> their tracks, plus every track of the same global identity -> ranked identities, each
// with its cameras and time spans. Distances are recomputed exactly from the stored vectors, so ranking
// does not depend on whether the index answered exactly or approximately.
import { dot, l2NormalizeInPlace } from '@mei/vision/vector';
import type { CameraSpans, IdentityMatch, MatchedTrack, ModelsSpec, PersonSearchResponse, SearchFilters, StoredTrack } from '@mei/contracts';
import type { Box, Frame } from '@mei/vision/types';
import type { HistoryStore } from '../store.ts';
import type { EmbeddingIndexes } from './indexes.ts';
import type { JobModels } from './embedders.ts';
import { ImageError } from './image.ts';

export { DEFAULT_LIMIT, MAX_LIMIT } from './search-limits.ts';
import { DEFAULT_LIMIT, MAX_LIMIT } from './search-limits.ts';
/** Nearest embeddings fetched per query vector: enough to fill `limit` identities of several tracks each. */
const CANDIDATES_PER_IDENTITY = 10;
const MIN_CANDIDATES = 100;

export interface SearchScope extends SearchFilters {
  jobKey: string;
}

/** A unit-length copy (stored vectors are kept as sent; a zero vector stays zero). */
const unit = (v: Float32Array): Float32Array => l2NormalizeInPlace(Float32Array.from(v));

export class PersonSearch {
  constructor(
    private readonly store: HistoryStore,
    private readonly indexes: EmbeddingIndexes,
    private readonly models: JobModels,
  ) {}

  /** Nearest identities to any of the query vectors (all of `model`), within the scope. */
  async byVectors(model: string, queries: Float32Array[], scope: SearchScope): Promise<Pick<PersonSearchResponse, 'identities' | 'stats'>> {
    const t0 = performance.now();
    const limit = Math.max(1, Math.min(MAX_LIMIT, scope.limit ?? DEFAULT_LIMIT));
    const jobUids = await this.store.jobUids(scope.jobKey);
    const qs = queries.map(unit);
    const k = Math.max(MIN_CANDIDATES, limit * CANDIDATES_PER_IDENTITY);
    // The index narrows by job, camera and start time (its end times may be open); the rows decide exactly.
    const filter = { jobUids, ...(scope.cameras ? { cameras: scope.cameras } : {}), ...(scope.toMs !== undefined ? { toMs: scope.toMs } : {}) };
    const ids = new Set<number>();
    let indexed = 0;
    for (const q of qs) {
      const r = await this.indexes.search(model, q, k, filter);
      indexed = r.size;
      for (const h of r.hits) ids.add(h.id);
    }
    const tracks = await this.store.candidates([...ids], model, scope);
    const matched: MatchedTrack[] = [];
    for (const t of tracks) {
      let best = Infinity;
      for (const v of t.vectors) for (const q of qs) if (v.length === q.length) best = Math.min(best, 1 - dot(unit(v), q));
      // A track without an embedding of this model (too short to get one) counts only through its identity.
      if (best === Infinity && t.globalId === null) continue;
      const { vectors: _v, ...track } = t;
      matched.push({ ...track, distance: best === Infinity ? best : Math.max(0, best) });
    }
    const identities = groupByIdentity(matched).slice(0, limit);
    return { identities, stats: { indexed, candidates: ids.size, ms: Math.round((performance.now() - t0) * 10) / 10 } };
  }

  /** "Find this person": the stored track's representative embeddings are the query. */
  async byTrack(track: StoredTrack, scope: SearchScope): Promise<PersonSearchResponse> {
    const embs = await this.store.trackEmbeddings(track.id);
    // All of one model (the newest if the job's model ever changed).
    const model = embs.length ? embs[embs.length - 1].model : undefined;
    const vectors = embs.filter((e) => e.model === model).map((e) => e.vector);
    const base = { kind: 'track' as const, jobKey: scope.jobKey, model: model ?? '', trackId: track.id };
    if (!model) return { query: base, identities: [], stats: { indexed: 0, candidates: 0, ms: 0 } };
    return { query: base, ...(await this.byVectors(model, vectors, scope)) };
  }

  /**
   * Query by example: embeds the image with the job's ReID model, as one person crop, or (detect) the largest
   * person the job's detector finds in it (422 naming `image` when there is none).
   */
  async byImage(models: ModelsSpec, frame: Frame, detect: boolean, scope: SearchScope): Promise<PersonSearchResponse> {
    let box: Box = { x: 0, y: 0, w: frame.width, h: frame.height };
    if (detect) {
      const found = await this.models.largestPerson(models.detector, frame);
      if (!found) throw new ImageError(422, 'no person found in the image (the job\'s detector found nobody; send a clearer picture, or search without detection to use the whole image as the person)');
      box = found;
    }
    const { model, vector } = await this.models.embed(models, frame, box);
    const round = (v: number) => Math.round(v * 10) / 10;
    const query: PersonSearchResponse['query'] = {
      kind: 'image',
      jobKey: scope.jobKey,
      model,
      image: { width: frame.width, height: frame.height, box: { x: round(box.x), y: round(box.y), w: round(box.w), h: round(box.h) }, detected: detect },
    };
    return { query, ...(await this.byVectors(model, [vector], scope)) };
  }
}

/** Tracks grouped by (job, global identity) — a track never joined to one is its own group — nearest first. */
export function groupByIdentity(tracks: readonly MatchedTrack[]): IdentityMatch[] {
  const groups = new Map<string, MatchedTrack[]>();
  for (const t of tracks) {
    const key = `${t.jobUid}\u0000${t.globalId ?? `track:${t.id}`}`;
    const list = groups.get(key);
    if (list) list.push(t);
    else groups.set(key, [t]);
  }
  const out: IdentityMatch[] = [];
  for (const list of groups.values()) {
    list.sort((a, b) => a.distance - b.distance || a.startMs - b.startMs);
    if (list[0].distance === Infinity) continue; // an identity reached only through tracks without embeddings
    // Tracks without an embedding of their own take their identity's distance.
    for (const t of list) if (t.distance === Infinity) t.distance = list[0].distance;
    const cams = new Map<string, CameraSpans['spans']>();
    for (const t of [...list].sort((a, b) => a.startMs - b.startMs)) {
      const spans = cams.get(t.camera) ?? [];
      spans.push({ trackId: t.id, startMs: t.startMs, endMs: t.endMs });
      cams.set(t.camera, spans);
    }
    out.push({
      identity: list[0].globalId ?? `track:${list[0].id}`,
      jobKey: list[0].jobKey,
      distance: list[0].distance,
      startMs: Math.min(...list.map((t) => t.startMs)),
      endMs: Math.max(...list.map((t) => t.endMs)),
      cameras: [...cams.entries()].sort((a, b) => a[0].localeCompare(b[0])).map(([camera, spans]) => ({ camera, spans })),
      tracks: list,
    });
  }
  return out.sort((a, b) => a.distance - b.distance || a.identity.localeCompare(b.identity));
}
