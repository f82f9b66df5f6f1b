// How the agent sends its runners' track thumbnails (mock: a scripted transport and camera runner, no server,
// no video): jobKey and the camera run's session filled in, a few in flight per camera at most, nothing
// while disconnected, never resent. The real runner and real sockets are in pipeline-runner-thumbnails.test.ts
// and test/integration/history-thumbnails.test.ts.
import { describe, expect, it } from 'vitest';
import { decodeObservations, type Ack, type ObservationBatch, type TaskAssignmentInput, type TrackThumbnail } from '@mei/contracts';
import { EdgeAgent, MAX_THUMBNAILS_IN_FLIGHT } from '../src/agent/agent.ts';
import { encodeCrop } from '@mei/vision/image';
import { ScriptedRunner } from './support/scripted-runner.ts';

/** A transport whose acks for 'thumbnail' wait until release() (a slow link). */
class HeldTransport {
  connected = true;
  readonly sent: Array<{ event: string; payload: any }> = [];
  private held: Array<() => void> = [];
  async send(event: string, payload: unknown): Promise<Ack> {
    this.sent.push({ event, payload });
    if (event === 'thumbnail') await new Promise<void>((r) => this.held.push(r));
    return { ok: true };
  }
  release() {
    this.held.splice(0).forEach((r) => r());
  }
  of(event: string) {
    return this.sent.filter((s) => s.event === event).map((s) => s.payload);
  }
}

const img = encodeCrop({ width: 64, height: 128, data: new Uint8Array(64 * 128 * 3).fill(90) }, { x: 8, y: 8, w: 40, h: 100 });
const thumb = (localId: number): Omit<TrackThumbnail, 'jobKey' | 'session'> => ({ camera: 'a', localId, frameIndex: 3, timestampMs: 300, ...img });

describe('edge agent thumbnails (mock transport and runner)', () => {
  it('adds jobKey and session, keeps at most a few in flight per camera, sends nothing while disconnected', async () => {
    const transport = new HeldTransport();
    const runners: ScriptedRunner[] = [];
    const agent = new EdgeAgent({ node: 'edge-1', transport, runners: (ctx) => (runners.push(new ScriptedRunner(ctx)), runners.at(-1)!), heartbeatMs: 60_000 });
    const task: TaskAssignmentInput = {
      jobKey: 'default/job',
      uid: 'uid-1',
      generation: 1,
      node: 'edge-1',
      mode: 'live',
      cameras: [{ name: 'a', node: 'edge-1', source: '/a.mp4' }],
      models: { detector: { decoder: 'yolox' } },
      privacy: { preview: 'thumbnails' },
    };
    await agent.handleTask(task);
    const ctx = runners[0].ctx;
    expect(ctx.thumbnailSlots()).toBe(MAX_THUMBNAILS_IN_FLIGHT);
    for (let id = 0; id < MAX_THUMBNAILS_IN_FLIGHT + 2; id++) ctx.emitThumbnail(thumb(id));
    const sent = transport.of('thumbnail');
    expect(sent.map((t) => t.localId)).toEqual([0, 1, 2, 3]);
    expect(ctx.thumbnailSlots()).toBe(0);
    // Same session as the camera's observations, so the server finds the track of this camera run.
    ctx.emitObservations({ camera: 'a', frames: [{ frameIndex: 3, timestampMs: 300, emittedAt: 1, width: 64, height: 128, tracks: [] }] });
    await agent.onConnect();
    await new Promise((r) => setTimeout(r, 20));
    // Observations leave the agent's spool as protocol-2 bytes.
    const batch: ObservationBatch = decodeObservations(transport.of('observations')[0] as Uint8Array);
    expect(sent[0]).toMatchObject({ jobKey: 'default/job', camera: 'a', localId: 0, width: img.width, height: img.height });
    expect(sent[0].session).toBe(batch.session);

    transport.release();
    await new Promise((r) => setTimeout(r, 10));
    expect(ctx.thumbnailSlots()).toBe(MAX_THUMBNAILS_IN_FLIGHT);
    transport.connected = false;
    expect(ctx.thumbnailSlots()).toBe(0);
    ctx.emitThumbnail(thumb(9));
    transport.connected = true;
    expect(transport.of('thumbnail')).toHaveLength(4); // dropped, and not resent on reconnect
    transport.release();
    await agent.shutdown('test');
  });
});
