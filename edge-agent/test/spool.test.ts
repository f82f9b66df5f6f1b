// The on-disk spool (real files in a temporary folder) and the splitting of oversize batches.
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_MESSAGE_BYTES, decodeObservations, encodeObservations, type IngestAck, type ObservationBatch } from '@mei/contracts';
import { Spool } from '../src/transport/spool.ts';
import { ObservationOutbox, splitToFit } from '../src/transport/outbox.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), 'mei-spool-'));
  dirs.push(d);
  return d;
}
const payload = (i: number, size = 100) => new Uint8Array(size).fill(i % 251);
const segments = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.seg')).sort();
const seqsOf = (s: Spool, session = 's1') => [...s.unsent(session)].map((e) => e.seq);

describe('spool on disk', () => {
  it('keeps what is not committed across a reopen, and nothing that is', () => {
    const dir = tmp();
    const a = new Spool(dir, { maxBytes: 1 << 20 });
    for (let seq = 1; seq <= 10; seq++) a.append('s1', seq, payload(seq));
    a.append('s2', 100, payload(100));
    a.commit('s1', 4);
    expect(a.stats()).toMatchObject({ unsent: 7, spooledBytes: 700, droppedBatches: 0 });
    // No close(): the process dies here (what SIGKILL leaves is what was written).
    const b = new Spool(dir, { maxBytes: 1 << 20 });
    expect(seqsOf(b)).toEqual([5, 6, 7, 8, 9, 10]);
    expect(seqsOf(b, 's2')).toEqual([100]);
    const first = [...b.unsent('s1')][0];
    expect(Buffer.from(b.read(first)!)).toEqual(Buffer.from(payload(5)));
    // A refused batch is forgotten like a committed one; the cursor moves over it once the earlier are done.
    b.forget([...b.unsent('s1')][1]);
    b.commit('s1', 5);
    expect(seqsOf(new Spool(dir, { maxBytes: 1 << 20 }))).toEqual([7, 8, 9, 10]);
  });

  it('cuts a torn tail (kill mid-write) and a record whose checksum fails, and never misreads them', () => {
    const dir = tmp();
    const a = new Spool(dir, { maxBytes: 1 << 20 });
    for (let seq = 1; seq <= 5; seq++) a.append('s1', seq, payload(seq));
    a.close();
    const [seg] = segments(dir);
    const file = path.join(dir, seg);
    const whole = statSync(file).size;
    // Torn: half of the last record is on disk.
    truncateSync(file, whole - 60);
    const b = new Spool(dir, { maxBytes: 1 << 20 });
    expect(seqsOf(b)).toEqual([1, 2, 3, 4]);
    expect(statSync(file).size).toBe((whole / 5) * 4); // cut at the record boundary
    b.close();
    // Corrupt: one payload byte of record 3 flipped; records from there on are cut (never read as data).
    const bytes = readFileSync(file);
    bytes[(whole / 5) * 2 + 50] ^= 0xff;
    writeFileSync(file, bytes);
    const c = new Spool(dir, { maxBytes: 1 << 20 });
    expect(seqsOf(c)).toEqual([1, 2]);
    // Garbage after a kill (a length that runs past the end) is cut the same way; appending goes on.
    c.close();
    appendFileSync(file, Buffer.from([0xff, 0xff, 0x00, 0x00, 1, 2, 3]));
    const d = new Spool(dir, { maxBytes: 1 << 20 });
    d.append('s1', 6, payload(6));
    const e = new Spool(dir, { maxBytes: 1 << 20 });
    expect(seqsOf(e)).toEqual([1, 2, 6]);
    expect(Buffer.from(e.read([...e.unsent('s1')][2])!)).toEqual(Buffer.from(payload(6)));
  });

  it('full: drops the oldest segment, counts every unsent batch in it (across restarts) and stays within its bound', () => {
    const dir = tmp();
    const maxBytes = 131_072; // two segments of 64 KiB
    const a = new Spool(dir, { maxBytes });
    const size = 1_000;
    for (let seq = 1; seq <= 300; seq++) a.append('s1', seq, payload(seq, size));
    const held = seqsOf(a);
    const stats = a.stats();
    expect(stats.droppedBatches).toBeGreaterThan(0);
    expect(stats.droppedBatches + held.length).toBe(300);
    // The newest are kept, gap-free.
    expect(held).toEqual(Array.from({ length: held.length }, (_, i) => 301 - held.length + i));
    expect(a.bytesOnDisk).toBeLessThanOrEqual(maxBytes);
    expect(segments(dir).reduce((n, f) => n + statSync(path.join(dir, f)).size, 0)).toBe(a.bytesOnDisk);
    const b = new Spool(dir, { maxBytes });
    expect(b.stats()).toMatchObject({ droppedBatches: stats.droppedBatches, unsent: held.length });
  });

  it('declares its drops per session (count in all, lowest seq held) until the server took them, across restarts', () => {
    const dir = tmp();
    const a = new Spool(dir, { maxBytes: 131_072 });
    for (let seq = 1; seq <= 300; seq++) a.append('s1', seq, payload(seq, 1_000));
    const dropped = a.stats().droppedBatches;
    expect(a.dropDeclaration('s1')).toEqual({ count: dropped, heldFrom: seqsOf(a)[0] });
    expect(a.dropDeclaration('s2')).toBeUndefined();
    const b = new Spool(dir, { maxBytes: 131_072 });
    expect(b.dropDeclaration('s1')).toEqual({ count: dropped, heldFrom: seqsOf(b)[0] });
    b.declared('s1', dropped);
    expect(b.dropDeclaration('s1')).toBeUndefined();
    expect(new Spool(dir, { maxBytes: 131_072 }).dropDeclaration('s1')).toBeUndefined();
    // More drops later: the count goes on from where it was (the server counts the difference).
    for (let seq = 301; seq <= 400; seq++) b.append('s1', seq, payload(seq, 1_000));
    expect(b.dropDeclaration('s1')?.count).toBe(b.stats().droppedBatches);
  });

  it('the outbox sends the declaration with the batches after a drop (also the one a go-back waits for being gone) until one is committed', async () => {
    const spool = new Spool(tmp(), { maxBytes: 131_072 });
    const sent: Array<{ seq: number; dropped?: ObservationBatch['dropped'] }> = [];
    let answer: (seq: number) => IngestAck = () => ({ code: 'retry-later', retryAfterMs: 1, reason: 'test' });
    let connected = false;
    const outbox = new ObservationOutbox({
      send: async (bytes, seq) => {
        sent.push({ seq, dropped: decodeObservations(bytes).dropped });
        return answer(seq);
      },
      connected: () => connected,
      window: 1,
    });
    outbox.attach('k', spool);
    let seq = 1;
    const tracks = Array.from({ length: 40 }, (_, k) => ({ id: k + 1, x: k * 3, y: k * 2, w: 40, h: 90, score: 0.8, state: 'confirmed' as const }));
    const batch = (i: number) => ({ jobKey: 'a/b', camera: 'c', session: 's', frames: [{ frameIndex: i, timestampMs: i * 100, emittedAt: 1_700_000_000_000 + i, width: 1920, height: 1080, tracks }] });
    connected = true;
    outbox.push('k', batch(0), () => seq++); // seq 1: answered retry-later, the stream goes back to it
    await new Promise((r) => setTimeout(r, 20));
    connected = false;
    while (spool.stats().droppedBatches === 0) outbox.push('k', batch(seq), () => seq++); // the cut: spool full
    const held = seqsOf(spool, 's');
    expect(held[0]).toBeGreaterThan(1); // seq 1 is gone
    sent.length = 0;
    answer = (s) => ({ code: 'committed', through: s });
    connected = true;
    outbox.pump();
    await new Promise((r) => setTimeout(r, 100));
    expect(sent[0]).toEqual({ seq: held[0], dropped: { count: spool.stats().droppedBatches, heldFrom: held[0] } });
    // Committed: the next sends carry nothing.
    expect(sent.length).toBeGreaterThan(1);
    expect(sent.slice(1).every((x) => x.dropped === undefined)).toBe(true);
    expect(spool.dropDeclaration('s')).toBeUndefined();
    outbox.close();
  });

  it('a lower bound (the task changed spoolBytes) drops the oldest at once, counted', () => {
    const dir = tmp();
    const a = new Spool(dir, { maxBytes: 1 << 20 });
    for (let seq = 1; seq <= 600; seq++) a.append('s1', seq, payload(seq, 1_000));
    expect(a.stats()).toMatchObject({ unsent: 600, droppedBatches: 0 });
    a.resize(262_144);
    expect(a.bytesOnDisk).toBeLessThanOrEqual(262_144);
    const { unsent, droppedBatches } = a.stats();
    expect(unsent + droppedBatches).toBe(600);
    expect(seqsOf(a)).toEqual(Array.from({ length: unsent }, (_, i) => 601 - unsent + i));
    for (let seq = 601; seq <= 1_000; seq++) a.append('s1', seq, payload(seq, 1_000));
    expect(a.bytesOnDisk).toBeLessThanOrEqual(262_144);
  });

  it('deletes segments once everything in them is committed', () => {
    const dir = tmp();
    const a = new Spool(dir, { maxBytes: 1 << 20, segmentBytes: 65_536 });
    for (let seq = 1; seq <= 200; seq++) a.append('s1', seq, payload(seq, 1_000));
    expect(segments(dir).length).toBeGreaterThanOrEqual(3);
    a.commit('s1', 200);
    expect(segments(dir)).toHaveLength(1); // the one being written
    expect(a.stats()).toMatchObject({ unsent: 0, spooledBytes: 0, oldestUnsentSeconds: 0 });
  });

  it('names what it refuses: a spool smaller than two segments, a batch larger than half of it', () => {
    expect(() => new Spool(tmp(), { maxBytes: 1_000 })).toThrow(/at least 131072 bytes/);
    const s = new Spool(tmp(), { maxBytes: 131_072 });
    expect(() => s.append('s1', 1, new Uint8Array(70_000))).toThrow(/does not fit a spool of 131072 bytes/);
  });
});

describe('oversize batches', () => {
  const frame = (i: number, tracks: number) => ({
    frameIndex: i,
    timestampMs: i * 100,
    emittedAt: 1_700_000_000_000 + i,
    width: 1920,
    height: 1080,
    tracks: Array.from({ length: tracks }, (_, k) => ({ id: k + 1, x: k * 3, y: k * 2, w: 40, h: 90, score: 0.8, state: 'confirmed' as const })),
  });
  const vector = Array.from({ length: 2048 }, (_, i) => Math.cos(i) / 32);

  it('are split at frame boundaries into parts that each fit a message, keeping every frame and embedding once', () => {
    const batch: Omit<ObservationBatch, 'seq'> = {
      jobKey: 'a/b',
      camera: 'c',
      session: 's',
      frames: Array.from({ length: 100 }, (_, i) => frame(i, 500)),
      embeddings: Array.from({ length: 400 }, (_, i) => ({ id: i + 1, vector })),
    };
    expect(encodeObservations({ ...batch, seq: 1 }).length).toBeGreaterThan(MAX_MESSAGE_BYTES);
    const parts = splitToFit(batch, MAX_MESSAGE_BYTES - 1_024).map((p, i) => p.encode(1_000 + i));
    expect(parts.length).toBeGreaterThan(1);
    for (const p of parts) expect(p.length).toBeLessThanOrEqual(MAX_MESSAGE_BYTES - 1_024);
    const decoded = parts.map((p) => decodeObservations(p));
    expect(decoded.map((d) => d.seq)).toEqual(parts.map((_, i) => 1_000 + i));
    expect(decoded.flatMap((d) => d.frames.map((f) => f.frameIndex))).toEqual(batch.frames.map((f) => f.frameIndex));
    expect(decoded.flatMap((d) => d.embeddings?.map((e) => e.id) ?? [])).toEqual(batch.embeddings!.map((e) => e.id));
  });

  it('the outbox spools each part under its own seq', () => {
    const spool = new Spool(tmp(), { maxBytes: 64 << 20 });
    const outbox = new ObservationOutbox({ send: async () => ({ code: 'retry-later', retryAfterMs: 0, reason: 'test' }), connected: () => false });
    outbox.attach('k', spool);
    let seq = 10;
    const seqs = outbox.push('k', { jobKey: 'a/b', camera: 'c', session: 's', frames: Array.from({ length: 100 }, (_, i) => frame(i, 500)), embeddings: Array.from({ length: 400 }, (_, i) => ({ id: i + 1, vector })) }, () => seq++);
    expect(seqs.length).toBeGreaterThan(1);
    expect(seqsOf(spool, 's')).toEqual(seqs);
    outbox.close();
  });
});
