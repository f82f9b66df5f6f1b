// The two crop stores of the live view on their own: the server's ThumbnailBoard (bounds, crops waiting for
// an identity, merges, camera runs) and the browser's ThumbnailStore (object URLs revoked whenever a crop
// goes, so a long session leaks no blobs; Node's own Blob URLs stand in for the browser's).
import { resolveObjectURL } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import type { LiveThumbnail } from '@mei/contracts';
import { ThumbnailBoard } from '../../server/live/thumbnail-board.ts';
import { ThumbnailStore } from '../../app/lib/liveThumbnails.ts';

const jpeg = (n: number) => Uint8Array.from([0xff, 0xd8, n & 0xff, 0xd9]);
const crop = (camera: string, localId: number, n = localId, session?: string) => ({ camera, localId, session, width: 20, height: 40, jpeg: jpeg(n) });

describe('ThumbnailBoard (server)', () => {
  it('keeps the newest crop per identity, at most maxIdentities, the oldest evicted first', () => {
    const board = new ThumbnailBoard('default/j', { maxIdentities: 3 });
    expect(board.add(crop('a', 1), 'P1', 1)).toMatchObject({ jobKey: 'default/j', identity: 'P1', camera: 'a', localId: 1, receivedAt: 1 });
    board.add(crop('a', 2), 'P2', 2);
    board.add(crop('b', 7, 70), 'P1', 3); // P1's newest crop now, from another track
    board.add(crop('a', 3), 'P3', 4);
    board.add(crop('a', 4), 'P4', 5); // evicts P2 (P1 was refreshed after it)
    expect([...board.latest()].map((t) => t.identity)).toEqual(['P1', 'P3', 'P4']);
    expect(board.get('P1')).toMatchObject({ camera: 'b', localId: 7, jpeg: jpeg(70) });
    expect(board.size).toBe(3);
  });

  it('holds a crop until its track has an identity, bounded, and drops it when the track ends or its run does', () => {
    const board = new ThumbnailBoard('default/j', { maxPending: 2 });
    expect(board.add(crop('a', 1, 1, 's1'), undefined, 1)).toBeUndefined();
    expect(board.add(crop('a', 2, 2, 's1'), undefined, 2)).toBeUndefined();
    expect(board.add(crop('b', 3), undefined, 3)).toBeUndefined(); // a/1 is evicted
    expect(board.pendingCount).toBe(2);
    expect(board.resolve('a', 1, 'P1')).toBeUndefined();
    expect(board.resolve('a', 2, 'P2')).toMatchObject({ identity: 'P2', localId: 2, receivedAt: 2 });
    expect(board.resolve('a', 2, 'P2')).toBeUndefined(); // published once
    board.dropTrack('b', 3);
    expect(board.resolve('b', 3, 'P3')).toBeUndefined();

    board.add(crop('a', 5, 5, 's1'), undefined, 4);
    board.add(crop('a', 6, 6, 's2'), undefined, 5);
    board.resetCamera('a', 's2'); // run s1 is over: its local ids mean somebody else now
    expect(board.resolve('a', 5, 'P5')).toBeUndefined();
    expect(board.resolve('a', 6, 'P6')).toMatchObject({ identity: 'P6' });
  });

  it('a crop that waited does not replace a newer one of the same identity', () => {
    const board = new ThumbnailBoard('default/j');
    board.add(crop('a', 1), undefined, 1);
    board.add(crop('b', 2), 'P1', 2);
    expect(board.resolve('a', 1, 'P1')).toBeUndefined();
    expect(board.get('P1')).toMatchObject({ camera: 'b', localId: 2 });
  });

  it('a merge keeps the newer crop of the two ids under the id that stays', () => {
    const board = new ThumbnailBoard('default/j');
    board.add(crop('a', 1), 'P1', 1);
    board.add(crop('b', 2), 'P2', 2);
    expect(board.merge('P2', 'P1')).toMatchObject({ identity: 'P1', camera: 'b', localId: 2 });
    expect(board.get('P2')).toBeUndefined();
    board.add(crop('a', 3), 'P3', 0); // older than P1's
    expect(board.merge('P3', 'P1')).toBeUndefined();
    expect(board.get('P1')).toMatchObject({ localId: 2 });
    expect(board.get('P3')).toBeUndefined();
    expect(board.merge('P9', 'P1')).toBeUndefined();
    expect(board.size).toBe(1);
  });
});

const thumb = (identity: string, receivedAt: number, n = receivedAt): LiveThumbnail => ({ jobKey: 'default/j', identity, camera: 'a', localId: 1, receivedAt, width: 20, height: 40, jpeg: jpeg(n) });
const alive = (url: string) => resolveObjectURL(url) !== undefined;
const bytesAt = async (url: string) => new Uint8Array(await resolveObjectURL(url)!.arrayBuffer());

describe('ThumbnailStore (browser)', () => {
  it('keeps the newest crop per identity and revokes every URL it lets go (replace, merge, evict, dispose)', async () => {
    const store = new ThumbnailStore(2);
    store.put(thumb('P1', 1));
    const u1 = store.get('P1')!.url;
    expect(await bytesAt(u1)).toEqual(jpeg(1));
    store.put(thumb('P1', 0)); // older, arrived late: ignored
    expect(store.get('P1')!.url).toBe(u1);
    store.put(thumb('P1', 5));
    const u5 = store.get('P1')!.url;
    expect(alive(u1)).toBe(false);
    expect(await bytesAt(u5)).toEqual(jpeg(5));

    store.put(thumb('P2', 3));
    const u3 = store.get('P2')!.url;
    store.merge('P2', 'P1'); // P1's crop is newer: P2's goes
    expect(alive(u3)).toBe(false);
    expect(store.get('P2')).toBeUndefined();
    expect(store.get('P1')!.url).toBe(u5);

    store.put(thumb('P3', 9));
    const u9 = store.get('P3')!.url;
    store.merge('P1', 'P3'); // P3's is newer
    expect(alive(u5)).toBe(false);
    store.put(thumb('P4', 10));
    store.put(thumb('P5', 11)); // over the bound of 2: the oldest (P3) goes
    expect(alive(u9)).toBe(false);
    expect(store.size).toBe(2);
    const left = ['P4', 'P5'].map((id) => store.get(id)!.url);
    store.dispose();
    expect(left.map(alive)).toEqual([false, false]);
    expect(store.size).toBe(0);
  });

  it('moves a merged-away crop that is newer to the id that stays, and tells listeners once per burst', async () => {
    const store = new ThumbnailStore();
    let calls = 0;
    const off = store.subscribe(() => calls++);
    store.put(thumb('P1', 1));
    const u1 = store.get('P1')!.url;
    store.put(thumb('P2', 2));
    const u2 = store.get('P2')!.url;
    store.merge('P2', 'P1');
    expect(store.get('P1')!.url).toBe(u2);
    expect(alive(u2)).toBe(true);
    expect(alive(u1)).toBe(false);
    expect(store.snapshot.size).toBe(0); // not yet: changes are coalesced
    await expect.poll(() => calls).toBe(1);
    expect([...store.snapshot.keys()]).toEqual(['P1']);
    off();
    store.dispose();
  });
});
