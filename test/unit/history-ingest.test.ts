// The live ingest feeds the history sink: every applied batch once (resends are not stored twice), with
// each track's global identity and the batch's embeddings and merges; the agents' crops (the one thumbnail
// source) only when privacy lets them through the live hub, previews never. The sink here records its calls (the store itself is tested in
// test/integration/history-store.test.ts).
import { describe, expect, it } from 'vitest';
import type { MultiEdgeInference, ObservationBatch, WatchEvent } from '@mei/contracts';
import { silentLogger } from '../../server/log.ts';
import { LiveHub } from '../../server/live/live-hub.ts';
import type { HistoryObservations, HistorySink, HistoryThumbnail } from '../../server/history/sink.ts';
import { encodePreview } from '@mei/vision/image';

const UID = '00000000-0000-4000-8000-0000000000aa';
function job(preview: 'none' | 'live'): MultiEdgeInference {
  return {
    apiVersion: 'sedna.io/v1alpha1',
    kind: 'MultiEdgeInference',
    metadata: { namespace: 'default', name: 'h', uid: UID, resourceVersion: '1', generation: 1, creationTimestamp: '2026-01-01T00:00:00Z' },
    spec: {
      cameras: [
        { name: 'left', node: 'n1', source: 'x' },
        { name: 'right', node: 'n1', source: 'x' },
      ],
      models: { detector: { decoder: 'yolox' } },
      privacy: { preview },
    },
  } as MultiEdgeInference;
}

function recordingSink() {
  const calls: HistoryObservations[] = [];
  const thumbnails: HistoryThumbnail[] = [];
  // Were the hub to hand a preview on (the server once cut thumbnails from them), it is recorded.
  const other: string[] = [];
  const sink = new Proxy({ observations: (o: HistoryObservations) => void calls.push(o), thumbnail: (t: HistoryThumbnail) => void thumbnails.push(t) } as HistorySink, {
    get: (target, prop) => (prop === 'preview' ? () => void other.push(prop) : target[prop as keyof HistorySink]),
  });
  return { sink, calls, thumbnails, other };
}

const vec = (k: number) => Array.from({ length: 16 }, (_, i) => Math.cos(k * 3.7 + i));
function batch(seq: number, camera: string, t: number, withEmbedding: boolean): ObservationBatch {
  return {
    jobKey: 'default/h',
    camera,
    seq,
    frames: [{ frameIndex: seq, timestampMs: t, emittedAt: t, width: 432, height: 576, tracks: [{ id: 4, x: 1, y: 2, w: 30, h: 90, score: 0.8, state: 'confirmed' }] }],
    ...(withEmbedding ? { embeddings: [{ id: 4, vector: vec(1) }] } : {}),
  };
}
const settle = () => new Promise((r) => setTimeout(r, 30));

describe('live ingest -> history sink', () => {
  it('hands each applied batch over once, with global identities and embeddings', async () => {
    const j = job('none');
    const { sink, calls, thumbnails, other } = recordingSink();
    const hub = new LiveHub({ jobs: { get: () => j, onChange: (_l: (k: string, ev: WatchEvent) => void) => () => {} }, log: silentLogger, history: sink });
    const agent = { jobKey: 'default/h', uid: UID, node: 'n1' };
    try {
      hub.ingest(agent, batch(0, 'left', 1000, true));
      hub.ingest(agent, batch(0, 'left', 1000, true)); // resent after a reconnect
      hub.ingest(agent, batch(1, 'left', 1100, false));
      await settle();
      expect(calls).toHaveLength(2);
      expect(calls[0]).toMatchObject({ jobKey: 'default/h', jobUid: UID, camera: 'left' });
      expect(calls[0].embeddings).toEqual([{ id: 4, vector: vec(1) }]);
      const t = calls[1].frames[0].tracks[0];
      expect(t).toMatchObject({ localId: 4, state: 'confirmed', x: 1, h: 90 });
      expect(t.globalId).toMatch(/^P\d+$/); // joined to an identity once it had an embedding
      expect(calls[1].frames[0]).toMatchObject({ frameIndex: 1, timestampMs: 1100, width: 432, height: 576 });
      // privacy.preview 'none': the hub refuses a preview and a crop, so nothing reaches the store.
      const img = encodePreview({ width: 64, height: 64, data: new Uint8Array(64 * 64 * 3) });
      expect(() => hub.preview(agent, { jobKey: 'default/h', camera: 'left', frameIndex: 1, timestampMs: 1100, emittedAt: 1, width: img.width, height: img.height, jpeg: img.jpeg })).toThrow(/no pixels/);
      expect(() => hub.thumbnail(agent, { jobKey: 'default/h', camera: 'left', localId: 4, frameIndex: 1, timestampMs: 1100, width: img.width, height: img.height, jpeg: img.jpeg })).toThrow(/no person crops/);
      expect(thumbnails).toHaveLength(0);
      expect(other).toEqual([]);
    } finally {
      hub.close();
    }
  });

  it("with privacy.preview 'live' the agent's crop reaches the store and a preview does not (one thumbnail producer)", async () => {
    const j = job('live');
    const { sink, thumbnails, other } = recordingSink();
    const hub = new LiveHub({ jobs: { get: () => j, onChange: () => () => {} }, log: silentLogger, history: sink });
    const agent = { jobKey: 'default/h', uid: UID, node: 'n1' };
    try {
      const img = encodePreview({ width: 64, height: 64, data: new Uint8Array(64 * 64 * 3) });
      hub.preview(agent, { jobKey: 'default/h', camera: 'right', frameIndex: 9, timestampMs: 900, emittedAt: 1, width: img.width, height: img.height, jpeg: img.jpeg });
      hub.thumbnail(agent, { jobKey: 'default/h', camera: 'right', localId: 4, frameIndex: 9, timestampMs: 900, width: img.width, height: img.height, jpeg: img.jpeg });
      await settle();
      expect(other).toEqual([]);
      expect(thumbnails).toHaveLength(1);
      expect(thumbnails[0]).toMatchObject({ jobKey: 'default/h', jobUid: UID, camera: 'right', localId: 4, width: 64 });
      expect(thumbnails[0].jpeg[0]).toBe(0xff);
    } finally {
      hub.close();
    }
  });
});
