// The agent -> server `thumbnail` event (contracts/src/events.ts): what the agent's crop encoder produces
// passes; every bad field is refused with an error naming it (describeZodError), never a crash.
import { describe, expect, it } from 'vitest';
import { MAX_THUMBNAIL_BYTES, MAX_THUMBNAIL_SIDE, TrackThumbnailSchema, describeZodError } from '@mei/contracts';
import { encodeCrop } from '@mei/vision/image';

const crop = encodeCrop({ width: 120, height: 200, data: new Uint8Array(120 * 200 * 3).map((_, i) => (i * 7) % 256) }, { x: 10, y: 10, w: 60, h: 150 });
const good = { jobKey: 'default/job', camera: 'left', session: 'abc', localId: 4, frameIndex: 12, timestampMs: 1200, width: crop.width, height: crop.height, jpeg: crop.jpeg };

function refusal(msg: unknown) {
  const r = TrackThumbnailSchema.safeParse(msg);
  if (r.success) throw new Error('expected the message to be refused');
  return describeZodError(r.error);
}

describe('TrackThumbnailSchema', () => {
  it('accepts the agent encoder output (Buffer or ArrayBuffer bytes) and an absent session', () => {
    expect(TrackThumbnailSchema.parse(good).jpeg[0]).toBe(0xff);
    const ab = crop.jpeg.buffer.slice(crop.jpeg.byteOffset, crop.jpeg.byteOffset + crop.jpeg.byteLength);
    const { session: _s, ...noSession } = good;
    expect(TrackThumbnailSchema.parse({ ...noSession, jpeg: ab }).jpeg).toBeInstanceOf(Uint8Array);
  });

  it.each([
    ['jobKey', { jobKey: 'no-slash' }, /namespace/],
    ['camera', { camera: '' }, /at least 1/],
    ['session', { session: 'x'.repeat(65) }, /at most 64/],
    ['localId', { localId: -1 }, /greater than or equal to 0/],
    ['localId', { localId: 1.5 }, /integer/],
    ['frameIndex', { frameIndex: 'three' }, /number/],
    ['timestampMs', { timestampMs: Number.NaN }, /number/],
    ['width', { width: MAX_THUMBNAIL_SIDE + 1 }, /less than or equal to 160/],
    ['height', { height: 0 }, /greater than or equal to 1/],
    ['jpeg', { jpeg: Buffer.from('not a jpeg at all') }, /JPEG/],
    ['jpeg', { jpeg: Buffer.concat([Buffer.from([0xff, 0xd8]), Buffer.alloc(MAX_THUMBNAIL_BYTES)]) }, /at most 32000 bytes/],
    ['jpeg', { jpeg: Buffer.alloc(300_000, 0xff) }, /bytes/],
    ['jpeg', { jpeg: null }, /binary JPEG/],
    ['jpeg', { jpeg: 'ffd8' }, /binary JPEG/],
  ])('refuses a bad %s', (field, patch, message) => {
    const r = refusal({ ...good, ...patch });
    expect(r.field).toBe(field);
    expect(r.error).toMatch(message);
    expect(r.error.startsWith(`${field}: `)).toBe(true);
  });

  it('refuses missing and unknown fields', () => {
    const { localId: _l, ...noId } = good;
    expect(refusal(noId)).toMatchObject({ field: 'localId', error: expect.stringMatching(/Required/) });
    expect(refusal({ ...good, box: { x: 1 } }).error).toMatch(/Unrecognized key.*box/);
    expect(refusal(null).error).toMatch(/object/);
  });
});
