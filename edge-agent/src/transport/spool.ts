// The on-disk spool of one (job, camera): every observation batch is written here (as the protocol-2 bytes
// it is sent as) before it goes out, and forgotten only once the server has committed it, so neither an
// outage nor an agent restart (SIGKILL included) loses data. Layout in `dir`:
//   <16-digit n>.seg  append-only segments of records: u32 bodyLength, u32 crc32(body), body
//                     body = f64 seq, f64 writtenAt (ms), u8 sessionLength, session (utf8), payload
//   cursor.json       per session the highest seq through which everything is done (committed or refused),
//                     the count of batches dropped (in all, and per session with how many of those the
//                     server has been told of); replaced atomically (write + rename) on every change.
// A record is read back only if its length fits and its checksum matches: a tail torn by a kill is cut at
// the first bad record, never misread. Bounded in bytes: when a new record does not fit, the oldest segment
// is deleted, and every unsent batch in it is counted as dropped (and kept in the cursor across restarts).
import { closeSync, fstatSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

/** One batch held by the spool. */
export interface SpoolEntry {
  readonly seq: number;
  readonly session: string;
  /** Payload bytes (what goes on the wire). */
  readonly bytes: number;
  /** Wall-clock ms when it was spooled (oldest-unsent age). */
  readonly writtenAt: number;
  readonly segment: number;
  /** Offset of the payload in its segment file. */
  readonly offset: number;
  /** Committed or refused (waiting only for earlier seqs of its session to be done too). */
  done: boolean;
}

export interface SpoolStats {
  /** Bytes of batches not yet committed. */
  spooledBytes: number;
  /** Batches not yet committed. */
  unsent: number;
  /** Age of the oldest batch not yet committed (0 when none). */
  oldestUnsentSeconds: number;
  /** Batches lost because the spool was full (counted across restarts). */
  droppedBatches: number;
}

export interface SpoolOptions {
  /** Upper bound of the segment files together (bytes). */
  maxBytes: number;
  /** Segment size (default maxBytes/16, at least 64 KiB): the granularity of dropping when full. */
  segmentBytes?: number;
  now?: () => number;
  log?: (msg: string) => void;
}

/** Smallest spool: two segments of 64 KiB. */
export const MIN_SPOOL_BYTES = 2 * 65_536;
const HEADER = 8;
const BODY_FIXED = 17; // f64 seq, f64 writtenAt, u8 sessionLength
/** A body longer than this is corruption, not a batch (batches are split to fit a Socket.IO message). */
const MAX_BODY = 4 << 20;
const SEGMENT_RE = /^(\d{16})\.seg$/;
const CURSOR = 'cursor.json';
const MAX_DROP_SESSIONS = 256;

const crc32: (b: Uint8Array) => number =
  (zlib as { crc32?: (b: Uint8Array) => number }).crc32 ??
  ((): ((b: Uint8Array) => number) => {
    // Node < 20.15 has no zlib.crc32: the same polynomial (IEEE), table-driven.
    const table = new Uint32Array(256).map((_, n) => {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      return c >>> 0;
    });
    return (b) => {
      let c = 0xffffffff;
      for (let i = 0; i < b.length; i++) c = table[(c ^ b[i]) & 0xff] ^ (c >>> 8);
      return (c ^ 0xffffffff) >>> 0;
    };
  })();

interface Segment {
  n: number;
  file: string;
  size: number;
  entries: SpoolEntry[];
  /** Entries not done yet: 0 = deletable. */
  pending: number;
  sessions: Set<string>;
}

/** A session's entries in seq order; those before `head` are done and forgotten (compacted now and then). */
interface SessionQueue {
  list: SpoolEntry[];
  head: number;
}

export class Spool {
  private readonly segments: Segment[] = [];
  /** Per session, its not-yet-forgotten entries in seq order (done ones stay until every earlier one is done). */
  private readonly sessions = new Map<string, SessionQueue>();
  private readonly byNumber = new Map<number, Segment>();
  private through: Record<string, number> = {};
  private dropped = 0;
  /** Per session: batches dropped, and how many of them the server was told of (ObservationBatch.dropped). */
  private drops: Record<string, { count: number; declared: number }> = {};
  /** Entries not done, and their payload bytes (kept as counters: stats are read on every answer). */
  private unsentCount = 0;
  private unsentBytes = 0;
  private fd?: number;
  private diskBytes = 0;
  private readonly segmentBytes: number;
  private maxBytes: number;
  private readonly now: () => number;
  private readonly log: (msg: string) => void;

  constructor(
    readonly dir: string,
    private readonly o: SpoolOptions,
  ) {
    if (!(o.maxBytes >= MIN_SPOOL_BYTES)) throw new Error(`spool size must be at least ${MIN_SPOOL_BYTES} bytes, got ${o.maxBytes}`);
    this.maxBytes = o.maxBytes;
    this.segmentBytes = o.segmentBytes ?? Math.max(65_536, Math.floor(o.maxBytes / 16));
    this.now = o.now ?? Date.now;
    this.log = o.log ?? (() => {});
    mkdirSync(dir, { recursive: true });
    this.load();
  }

  /** Unsent entries of a session from `fromSeq` on, in seq order. */
  *unsent(session: string, fromSeq = -1): Generator<SpoolEntry> {
    const q = this.sessions.get(session);
    if (!q) return;
    for (let i = q.head; i < q.list.length; i++) {
      const e = q.list[i];
      if (!e.done && e.seq >= fromSeq) yield e;
    }
  }

  /** Sessions with something unsent, oldest first. */
  activeSessions(): string[] {
    return [...this.sessions].filter(([, q]) => q.head < q.list.length).map(([s]) => s);
  }

  /** The payload of an entry that is still held (undefined once dropped or forgotten). */
  read(e: SpoolEntry): Uint8Array | undefined {
    const seg = this.byNumber.get(e.segment);
    if (!seg || e.done) return undefined;
    const fd = openSync(seg.file, 'r');
    try {
      const buf = Buffer.allocUnsafe(e.bytes);
      readSync(fd, buf, 0, e.bytes, e.offset);
      return buf;
    } finally {
      closeSync(fd);
    }
  }

  /** Writes a batch (before it is sent); drops the oldest segments first if it would not fit. */
  append(session: string, seq: number, payload: Uint8Array): SpoolEntry {
    const sess = Buffer.from(session, 'utf8');
    if (sess.length > 255) throw new Error(`session: at most 255 bytes, got ${sess.length}`);
    const bodyLen = BODY_FIXED + sess.length + payload.length;
    if (bodyLen > MAX_BODY) throw new Error(`batch of ${payload.length} bytes is larger than a spool record may be`);
    const size = HEADER + bodyLen;
    if (size > this.maxBytes / 2) throw new Error(`batch of ${payload.length} bytes does not fit a spool of ${this.maxBytes} bytes`);
    let active = this.segments.at(-1);
    // (A bound lowered by resize() also caps the segment, so the oldest can still be dropped.)
    if (!active || this.fd === undefined || active.size + size > Math.min(this.segmentBytes, this.maxBytes / 2)) active = this.roll();
    while (this.diskBytes + size > this.maxBytes && this.segments.length > 1) this.dropOldest();
    const rec = Buffer.allocUnsafe(size);
    rec.writeUInt32LE(bodyLen, 0);
    rec.writeDoubleLE(seq, HEADER);
    const writtenAt = this.now();
    rec.writeDoubleLE(writtenAt, HEADER + 8);
    rec.writeUInt8(sess.length, HEADER + 16);
    sess.copy(rec, HEADER + BODY_FIXED);
    rec.set(payload, HEADER + BODY_FIXED + sess.length);
    rec.writeUInt32LE(crc32(rec.subarray(HEADER)), 4);
    writeSync(this.fd!, rec, 0, size, active.size);
    const e: SpoolEntry = { seq, session, bytes: payload.length, writtenAt, segment: active.n, offset: active.size + HEADER + BODY_FIXED + sess.length, done: false };
    active.size += size;
    this.diskBytes += size;
    active.entries.push(e);
    active.pending++;
    active.sessions.add(session);
    this.track(e);
    return e;
  }

  /** Cumulative commit: every entry of `session` with seq <= through is done. */
  commit(session: string, through: number): void {
    const q = this.sessions.get(session);
    for (let i = q?.head ?? 0; q && i < q.list.length; i++) {
      if (q.list[i].seq > through) break; // in seq order
      this.markDone(q.list[i]);
    }
    this.advance(session, through);
  }

  /** One entry is done without being stored (refused): it is forgotten like a committed one. */
  forget(e: SpoolEntry): void {
    this.markDone(e);
    this.advance(e.session, -1);
  }

  /**
   * The declaration to send with a batch of `session` while the server has not been told of every drop:
   * the drops in all, and the lowest seq still held (the server stops waiting for anything below it).
   */
  dropDeclaration(session: string): { count: number; heldFrom: number } | undefined {
    const d = this.drops[session];
    if (!d || d.count <= d.declared) return undefined;
    const first = this.unsent(session).next().value;
    return first ? { count: d.count, heldFrom: first.seq } : undefined;
  }

  /** The server committed a batch that declared `count` drops of `session`. */
  declared(session: string, count: number): void {
    const d = this.drops[session];
    if (!d || count <= d.declared) return;
    d.declared = count;
    this.saveCursor();
  }

  stats(): SpoolStats {
    let oldest = Infinity;
    for (const q of this.sessions.values()) {
      for (let i = q.head; i < q.list.length; i++) {
        if (q.list[i].done) continue;
        oldest = Math.min(oldest, q.list[i].writtenAt);
        break;
      }
    }
    const age = this.unsentCount ? Math.max(0, Math.round((this.now() - oldest) / 1000)) : 0;
    return { spooledBytes: this.unsentBytes, unsent: this.unsentCount, oldestUnsentSeconds: age, droppedBatches: this.dropped };
  }

  private markDone(e: SpoolEntry): void {
    if (e.done) return;
    e.done = true;
    this.unsentCount--;
    this.unsentBytes -= e.bytes;
    const seg = this.byNumber.get(e.segment);
    if (seg) seg.pending--;
  }

  private track(e: SpoolEntry): void {
    this.unsentCount++;
    this.unsentBytes += e.bytes;
    let q = this.sessions.get(e.session);
    if (!q) this.sessions.set(e.session, (q = { list: [], head: 0 }));
    q.list.push(e);
  }

  /** A new bound (the task changed it): drops the oldest segments at once if the spool is over it. */
  resize(maxBytes: number): void {
    if (!(maxBytes >= MIN_SPOOL_BYTES)) throw new Error(`spool size must be at least ${MIN_SPOOL_BYTES} bytes, got ${maxBytes}`);
    this.maxBytes = maxBytes;
    while (this.diskBytes > maxBytes && this.segments.length > 1) this.dropOldest();
  }

  /** Bytes the segment files take on disk (bounded by maxBytes). */
  get bytesOnDisk(): number {
    return this.diskBytes;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  /** Moves a session's done prefix into the cursor, deletes segments that hold nothing unsent. */
  private advance(session: string, through: number): void {
    const q = this.sessions.get(session);
    let last = Math.max(through, this.through[session] ?? -1);
    if (q) {
      while (q.head < q.list.length && q.list[q.head].done) last = Math.max(last, q.list[q.head++].seq);
      if (q.head === q.list.length) this.sessions.delete(session);
      else if (q.head > 1024 && q.head * 2 > q.list.length) {
        q.list = q.list.slice(q.head);
        q.head = 0;
      }
    }
    const changed = last !== (this.through[session] ?? -1);
    if (changed) this.through[session] = last;
    const freed = this.collect();
    if (changed || freed) this.saveCursor();
  }

  /** Deletes fully done segments except the one being written. */
  private collect(): boolean {
    let freed = false;
    for (let i = 0; i < this.segments.length - 1; ) {
      const seg = this.segments[i];
      if (seg.pending === 0) {
        this.deleteSegment(i);
        freed = true;
      } else i++;
    }
    return freed;
  }

  private dropOldest(): void {
    const seg = this.segments[0];
    const lost = seg.entries.filter((e) => !e.done);
    for (const e of lost) {
      this.markDone(e);
      const d = (this.drops[e.session] ??= { count: 0, declared: 0 });
      d.count++;
    }
    this.dropped += lost.length;
    this.deleteSegment(0);
    for (const s of new Set(lost.map((e) => e.session))) {
      const q = this.sessions.get(s);
      if (!q) continue;
      const kept = q.list.slice(q.head).filter((e) => e.segment !== seg.n);
      if (kept.length) this.sessions.set(s, { list: kept, head: 0 });
      else this.sessions.delete(s);
      // Nothing of the dropped part is ever sent again: the cursor moves past it.
      for (const e of lost) if (e.session === s) this.through[s] = Math.max(this.through[s] ?? -1, e.seq);
    }
    if (lost.length) this.log(`spool full (${this.maxBytes} bytes): dropped the ${lost.length} oldest unsent batch(es)`);
    this.saveCursor();
  }

  private deleteSegment(i: number): void {
    const [seg] = this.segments.splice(i, 1);
    this.byNumber.delete(seg.n);
    this.diskBytes -= seg.size;
    try {
      unlinkSync(seg.file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }

  private roll(): Segment {
    if (this.fd !== undefined) closeSync(this.fd);
    const n = (this.segments.at(-1)?.n ?? 0) + 1;
    const seg = this.segment(n);
    this.fd = openSync(seg.file, 'w');
    this.segments.push(seg);
    this.byNumber.set(n, seg);
    this.collect();
    return seg;
  }

  private saveCursor(): void {
    // Sessions with nothing left in the spool need no cursor: anything they send later has a higher seq.
    const through: Record<string, number> = {};
    for (const [s, t] of Object.entries(this.through)) if (this.segments.some((seg) => seg.sessions.has(s))) through[s] = t;
    this.through = through;
    // Per-session drop counts stay (cumulative: the server counts each drop once); only sessions that ever
    // dropped have one, the most recent MAX_DROP_SESSIONS are kept.
    const names = Object.keys(this.drops);
    for (const s of names.slice(0, Math.max(0, names.length - MAX_DROP_SESSIONS))) delete this.drops[s];
    const file = path.join(this.dir, CURSOR);
    writeFileSync(`${file}.tmp`, JSON.stringify({ through, dropped: this.dropped, drops: this.drops }));
    renameSync(`${file}.tmp`, file);
  }

  private load(): void {
    try {
      const c = JSON.parse(readFileSync(path.join(this.dir, CURSOR), 'utf8')) as { through?: Record<string, number>; dropped?: number; drops?: Record<string, { count?: unknown; declared?: unknown }> };
      for (const [s, t] of Object.entries(c.through ?? {})) if (typeof t === 'number') this.through[s] = t;
      for (const [s, d] of Object.entries(c.drops ?? {})) {
        if (Number.isSafeInteger(d?.count) && Number.isSafeInteger(d?.declared)) this.drops[s] = { count: d.count as number, declared: d.declared as number };
      }
      if (Number.isSafeInteger(c.dropped)) this.dropped = c.dropped!;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.log(`spool ${this.dir}: cursor unreadable (${(err as Error).message}); resending everything held`);
    }
    const files = readdirSync(this.dir)
      .map((f) => SEGMENT_RE.exec(f))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
    for (const n of files) {
      const seg = this.segment(n);
      this.scan(seg);
      if (seg.size === 0) {
        unlinkSync(seg.file);
        continue;
      }
      this.segments.push(seg);
      this.byNumber.set(n, seg);
      this.diskBytes += seg.size;
      for (const e of seg.entries) {
        seg.sessions.add(e.session);
        if (e.seq <= (this.through[e.session] ?? -1)) e.done = true;
        else {
          seg.pending++;
          this.track(e);
        }
      }
    }
    // A restart starts a new segment: the last one may end in a cut tail and is never appended to again.
    this.collect();
    while (this.diskBytes > this.maxBytes && this.segments.length) this.dropOldest();
  }

  private segment(n: number): Segment {
    return { n, file: path.join(this.dir, `${String(n).padStart(16, '0')}.seg`), size: 0, entries: [], pending: 0, sessions: new Set() };
  }

  /** Reads a segment's records; cuts the file at the first record that is torn or fails its checksum. */
  private scan(seg: Segment): void {
    const fd = openSync(seg.file, 'r+');
    try {
      const size = fstatSync(fd).size;
      const data = Buffer.allocUnsafe(size);
      readSync(fd, data, 0, size, 0);
      let at = 0;
      while (at + HEADER <= size) {
        const bodyLen = data.readUInt32LE(at);
        if (bodyLen < BODY_FIXED || bodyLen > MAX_BODY || at + HEADER + bodyLen > size) break;
        const body = data.subarray(at + HEADER, at + HEADER + bodyLen);
        if (crc32(body) !== data.readUInt32LE(at + 4)) break;
        const sessLen = body.readUInt8(16);
        if (BODY_FIXED + sessLen > bodyLen) break;
        seg.entries.push({
          seq: body.readDoubleLE(0),
          writtenAt: body.readDoubleLE(8),
          session: body.toString('utf8', BODY_FIXED, BODY_FIXED + sessLen),
          bytes: bodyLen - BODY_FIXED - sessLen,
          segment: seg.n,
          offset: at + HEADER + BODY_FIXED + sessLen,
          done: false,
        });
        at += HEADER + bodyLen;
      }
      if (at < size) {
        this.log(`spool ${seg.file}: cut ${size - at} byte(s) of a torn or corrupt tail`);
        ftruncateSync(fd, at);
      }
      seg.size = at;
    } finally {
      closeSync(fd);
    }
  }
}
