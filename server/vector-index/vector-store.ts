// Columnar in-memory storage of normalised float32 vectors and their metadata, addressed by slot (insertion
// order). Removal tombstones a slot; slots are never reused, so a slot number is a stable key for the HNSW
// graph. Both indexes keep their vectors here: the exact scan reads them, the HNSW index reranks with them.
import { normalizeInPlace } from '@mei/vision/vector';
import fs from 'node:fs';
import path from 'node:path';
import type { SearchFilter, VectorMeta } from './types.ts';

/** Vectors per chunk: growth never copies the vectors, and no single allocation gets huge. */
const CHUNK = 16384;

type Growable = Float64Array | Uint32Array | Uint8Array;
function grow<T extends Growable>(arr: T, need: number): T {
  if (need <= arr.length) return arr;
  const next = new (arr.constructor as new (n: number) => T)(Math.max(need, arr.length * 2, 1024));
  next.set(arr);
  return next;
}

/** Interns strings (job uids, camera names) as small integers so filters test integers, not strings. */
class Dictionary {
  readonly values: string[] = [];
  private readonly index = new Map<string, number>();
  constructor(values: readonly string[] = []) {
    for (const v of values) this.intern(v);
  }
  intern(v: string): number {
    let i = this.index.get(v);
    if (i === undefined) {
      i = this.values.length;
      this.values.push(v);
      this.index.set(v, i);
    }
    return i;
  }
  /** One byte per interned value: 1 where the value is in `wanted`. */
  mask(wanted: readonly string[]): Uint8Array {
    const m = new Uint8Array(this.values.length);
    for (const w of wanted) {
      const i = this.index.get(w);
      if (i !== undefined) m[i] = 1;
    }
    return m;
  }
}

/** A filter compiled against one store. `all` means it lets every live slot through. */
export interface CompiledFilter {
  all: boolean;
  test(slot: number): boolean;
  /** When the filter names jobs or cameras: the (ascending) slots of the smaller of the two sets. */
  candidates?: Uint32Array[];
}

/** Slots per interned value, in insertion order, so a job or camera filter visits only its own entries. */
class Postings {
  private lists: Uint32Array[] = [];
  private counts: number[] = [];
  add(value: number, slot: number) {
    while (this.lists.length <= value) {
      this.lists.push(new Uint32Array(64));
      this.counts.push(0);
    }
    const n = this.counts[value];
    if (n === this.lists[value].length) {
      const next = new Uint32Array(n * 2);
      next.set(this.lists[value]);
      this.lists[value] = next;
    }
    this.lists[value][n] = slot;
    this.counts[value] = n + 1;
  }
  /** The lists of the values set in mask, and their total length. */
  select(mask: Uint8Array): { lists: Uint32Array[]; total: number } {
    const lists: Uint32Array[] = [];
    let total = 0;
    for (let v = 0; v < mask.length && v < this.lists.length; v++) {
      if (!mask[v]) continue;
      lists.push(this.lists[v].subarray(0, this.counts[v]));
      total += this.counts[v];
    }
    return { lists, total };
  }
  get bytes() {
    return this.lists.reduce((s, l) => s + l.byteLength, 0);
  }
}

export function validateVector(vector: ArrayLike<number>, dim: number, field: string): void {
  if (!vector || typeof vector.length !== 'number') throw new TypeError(`${field} must be an array of numbers`);
  if (vector.length !== dim) throw new RangeError(`${field} has ${vector.length} dimensions, the index has ${dim}`);
}

/** Copies `vector` into `out` scaled to unit length. */
export function normalizeInto(vector: ArrayLike<number>, out: Float32Array, field: string): Float32Array {
  for (let j = 0; j < out.length; j++) {
    const x = vector[j];
    if (typeof x !== 'number' || !Number.isFinite(x)) throw new TypeError(`${field}[${j}] is not a finite number`);
    out[j] = x;
  }
  if (!normalizeInPlace(out)) throw new RangeError(`${field} is all zeros (no direction to compare by cosine)`);
  return out;
}

export function validateMeta(meta: VectorMeta, field = 'meta'): void {
  if (!meta || typeof meta !== 'object') throw new TypeError(`${field} must be an object`);
  if (typeof meta.jobUid !== 'string' || !meta.jobUid) throw new TypeError(`${field}.jobUid must be a non-empty string`);
  if (typeof meta.camera !== 'string' || !meta.camera) throw new TypeError(`${field}.camera must be a non-empty string`);
  for (const k of ['startMs', 'endMs'] as const)
    if (typeof meta[k] !== 'number' || !Number.isFinite(meta[k])) throw new TypeError(`${field}.${k} must be a finite number`);
  if (meta.startMs > meta.endMs) throw new RangeError(`${field}.startMs (${meta.startMs}) is after ${field}.endMs (${meta.endMs})`);
}

export function validateFilter(filter: SearchFilter | undefined): void {
  if (filter === undefined) return;
  if (!filter || typeof filter !== 'object') throw new TypeError('filter must be an object');
  for (const k of ['jobUids', 'cameras'] as const) {
    const v = filter[k];
    if (v !== undefined && (!Array.isArray(v) || v.some((s) => typeof s !== 'string')))
      throw new TypeError(`filter.${k} must be an array of strings`);
  }
  for (const k of ['fromMs', 'toMs'] as const) {
    const v = filter[k];
    if (v !== undefined && (typeof v !== 'number' || Number.isNaN(v))) throw new TypeError(`filter.${k} must be a number`);
  }
  if (filter.fromMs !== undefined && filter.toMs !== undefined && filter.fromMs > filter.toMs)
    throw new RangeError(`filter.fromMs (${filter.fromMs}) is after filter.toMs (${filter.toMs})`);
}

export function validateId(id: number, field = 'id'): void {
  if (!Number.isSafeInteger(id) || id < 0) throw new TypeError(`${field} must be a non-negative safe integer (got ${String(id)})`);
}

const COLUMNS = ['ids', 'job', 'camera', 'start', 'end', 'alive'] as const;

/** What the manifest records about a saved store. */
export interface StoreSummary {
  slots: number;
  live: number;
  jobs: string[];
  cameras: string[];
}

export interface StoreSnapshot extends StoreSummary {
  dim: number;
  chunks: Float32Array[];
  columns: Record<(typeof COLUMNS)[number], Float64Array | Uint32Array | Uint8Array>;
}

const summary = (s: StoreSnapshot): StoreSummary => ({ slots: s.slots, live: s.live, jobs: s.jobs, cameras: s.cameras });

/** The files of a saved store and their bytes: vectors.f32 (slot-major float32) and one file per column. */
function snapshotFiles(s: StoreSnapshot): Array<[string, Uint8Array[]]> {
  const vectors: Uint8Array[] = [];
  for (let c = 0; c * CHUNK < s.slots; c++) vectors.push(new Uint8Array(s.chunks[c].buffer, 0, Math.min(CHUNK, s.slots - c * CHUNK) * s.dim * 4));
  const files: Array<[string, Uint8Array[]]> = [['vectors.f32', vectors]];
  for (const k of COLUMNS) {
    const a = s.columns[k];
    files.push([`${k}.bin`, [new Uint8Array(a.buffer, a.byteOffset, s.slots * a.BYTES_PER_ELEMENT)]]);
  }
  return files;
}

export class VectorStore {
  readonly dim: number;
  /** Slots used so far (live + removed). */
  slots = 0;
  live = 0;
  private chunks: Float32Array[] = [];
  private ids = new Float64Array(0);
  private job = new Uint32Array(0);
  private camera = new Uint32Array(0);
  private start = new Float64Array(0);
  private end = new Float64Array(0);
  private alive = new Uint8Array(0);
  private idToSlot = new Map<number, number>();
  private jobs = new Dictionary();
  private cameras = new Dictionary();
  private jobPostings = new Postings();
  private cameraPostings = new Postings();

  constructor(dim: number) {
    if (!Number.isInteger(dim) || dim <= 0) throw new RangeError(`dim must be a positive integer (got ${String(dim)})`);
    this.dim = dim;
  }

  /** Live ids in insertion order. */
  *liveIds(): Generator<number> {
    for (let s = 0; s < this.slots; s++) if (this.alive[s] === 1) yield this.ids[s];
  }

  slotOf(id: number): number | undefined {
    return this.idToSlot.get(id);
  }
  idAt(slot: number): number {
    return this.ids[slot];
  }
  isAlive(slot: number): boolean {
    return this.alive[slot] === 1;
  }
  /** A view of the stored (normalised) vector: do not keep it across add(). */
  vectorAt(slot: number): Float32Array {
    const c = this.chunks[Math.floor(slot / CHUNK)];
    const o = (slot % CHUNK) * this.dim;
    return c.subarray(o, o + this.dim);
  }

  /** Appends an already normalised vector; the caller removes an existing entry with this id first. */
  append(id: number, unit: Float32Array, meta: VectorMeta): number {
    const slot = this.slots;
    const n = slot + 1;
    if (Math.floor(slot / CHUNK) >= this.chunks.length) this.chunks.push(new Float32Array(CHUNK * this.dim));
    this.chunks[Math.floor(slot / CHUNK)].set(unit, (slot % CHUNK) * this.dim);
    this.ids = grow(this.ids, n);
    this.job = grow(this.job, n);
    this.camera = grow(this.camera, n);
    this.start = grow(this.start, n);
    this.end = grow(this.end, n);
    this.alive = grow(this.alive, n);
    this.ids[slot] = id;
    this.job[slot] = this.jobs.intern(meta.jobUid);
    this.camera[slot] = this.cameras.intern(meta.camera);
    this.jobPostings.add(this.job[slot], slot);
    this.cameraPostings.add(this.camera[slot], slot);
    this.start[slot] = meta.startMs;
    this.end[slot] = meta.endMs;
    this.alive[slot] = 1;
    this.idToSlot.set(id, slot);
    this.slots = n;
    this.live++;
    return slot;
  }

  /** Tombstones the id's slot; returns it, or undefined when the id is absent. */
  remove(id: number): number | undefined {
    const slot = this.idToSlot.get(id);
    if (slot === undefined) return undefined;
    this.idToSlot.delete(id);
    this.alive[slot] = 0;
    this.live--;
    return slot;
  }

  compile(filter: SearchFilter | undefined): CompiledFilter {
    validateFilter(filter);
    const jobMask = filter?.jobUids ? this.jobs.mask(filter.jobUids) : undefined;
    const camMask = filter?.cameras ? this.cameras.mask(filter.cameras) : undefined;
    const from = filter?.fromMs ?? -Infinity;
    const to = filter?.toMs ?? Infinity;
    const timed = from !== -Infinity || to !== Infinity;
    const { job, camera, start, end, alive } = this;
    if (!jobMask && !camMask && !timed) return { all: true, test: (s) => alive[s] === 1 };
    const byJob = jobMask && this.jobPostings.select(jobMask);
    const byCamera = camMask && this.cameraPostings.select(camMask);
    const smaller = byJob && byCamera ? (byJob.total <= byCamera.total ? byJob : byCamera) : (byJob ?? byCamera);
    return {
      all: false,
      candidates: smaller?.lists,
      test: (s) =>
        alive[s] === 1 &&
        (!jobMask || jobMask[job[s]] === 1) &&
        (!camMask || camMask[camera[s]] === 1) &&
        (!timed || (end[s] >= from && start[s] <= to)),
    };
  }

  /** Cosine distance between a unit query and a stored slot (unrolled: V8 does not vectorise). */
  distance(q: Float32Array, slot: number): number {
    const c = this.chunks[Math.floor(slot / CHUNK)];
    const o = (slot % CHUNK) * this.dim;
    const d = this.dim;
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    let j = 0;
    for (; j + 3 < d; j += 4) {
      s0 += c[o + j] * q[j];
      s1 += c[o + j + 1] * q[j + 1];
      s2 += c[o + j + 2] * q[j + 2];
      s3 += c[o + j + 3] * q[j + 3];
    }
    for (; j < d; j++) s0 += c[o + j] * q[j];
    return 1 - (s0 + s1 + s2 + s3);
  }

  /** Exact top-k over slots [from, to) that pass the filter, into `top`. */
  scan(q: Float32Array, filter: CompiledFilter, top: TopK, from = 0, to = this.slots): void {
    if (!filter.candidates) {
      for (let s = from; s < to; s++) if (filter.test(s)) top.push(s, this.distance(q, s));
      return;
    }
    for (const list of filter.candidates)
      for (let i = lowerBound(list, from); i < list.length; i++) {
        const s = list[i];
        if (s >= to) break;
        if (filter.test(s)) top.push(s, this.distance(q, s));
      }
  }

  /** Fraction of live slots in [0, upTo) that pass the filter, from a deterministic strided sample. */
  estimateSelectivity(filter: CompiledFilter, upTo = this.slots, samples = 2048): number {
    if (filter.all || upTo === 0) return 1;
    const step = Math.max(1, Math.floor(upTo / samples));
    let seen = 0, hit = 0;
    for (let s = (step >> 1) % upTo; s < upTo; s += step) {
      if (this.alive[s] !== 1) continue;
      seen++;
      if (filter.test(s)) hit++;
    }
    return seen ? hit / seen : 0;
  }

  /** Bytes held by vectors and columns (not the id map). */
  get bytes(): number {
    return this.chunks.length * CHUNK * this.dim * 4 + this.ids.length * (8 + 4 + 4 + 8 + 8 + 1) + this.jobPostings.bytes + this.cameraPostings.bytes;
  }

  /**
   * The entries as of now, to write out while the store keeps changing: slots are append-only and a slot's
   * vector never changes, so only the columns (33 bytes a slot) are copied, not the vectors.
   */
  snapshot(): StoreSnapshot {
    const n = this.slots;
    return {
      slots: n,
      live: this.live,
      jobs: [...this.jobs.values],
      cameras: [...this.cameras.values],
      chunks: this.chunks.slice(0, Math.ceil(n / CHUNK)),
      dim: this.dim,
      columns: { ids: this.ids.slice(0, n), job: this.job.slice(0, n), camera: this.camera.slice(0, n), start: this.start.slice(0, n), end: this.end.slice(0, n), alive: this.alive.slice(0, n) },
    };
  }

  save(dir: string): StoreSummary {
    const snap = this.snapshot();
    for (const [name, parts] of snapshotFiles(snap)) {
      const fd = fs.openSync(path.join(dir, name), 'w');
      try {
        for (const p of parts) writeAll(fd, p);
      } finally {
        fs.closeSync(fd);
      }
    }
    return summary(snap);
  }

  /** Writes a snapshot with asynchronous I/O (the event loop stays free while gigabytes go to disk). */
  static async writeSnapshot(snap: StoreSnapshot, dir: string): Promise<StoreSummary> {
    for (const [name, parts] of snapshotFiles(snap)) {
      const fh = await fs.promises.open(path.join(dir, name), 'w');
      try {
        for (const p of parts) for (let off = 0; off < p.length; ) off += (await fh.write(p, off, p.length - off)).bytesWritten;
      } finally {
        await fh.close();
      }
    }
    return summary(snap);
  }

  static load(dir: string, dim: number, m: { slots: number; live: number; jobs: string[]; cameras: string[] }): VectorStore {
    const st = new VectorStore(dim);
    const n = m.slots;
    const expect = n * dim * 4;
    const file = path.join(dir, 'vectors.f32');
    const size = fs.statSync(file).size;
    if (size !== expect) throw new Error(`${file} has ${size} bytes, the manifest says ${n} vectors of ${dim} floats (${expect} bytes)`);
    const fd = fs.openSync(file, 'r');
    try {
      for (let c = 0; c * CHUNK < n; c++) {
        const chunk = new Float32Array(CHUNK * dim);
        readAll(fd, new Uint8Array(chunk.buffer, 0, Math.min(CHUNK, n - c * CHUNK) * dim * 4));
        st.chunks.push(chunk);
      }
    } finally {
      fs.closeSync(fd);
    }
    const read = <T extends Growable>(name: string, Ctor: new (b: ArrayBuffer) => T, bytesPer: number): T => {
      const buf = fs.readFileSync(path.join(dir, `${name}.bin`));
      if (buf.length !== n * bytesPer) throw new Error(`${name}.bin has ${buf.length} bytes, expected ${n * bytesPer}`);
      const ab = new ArrayBuffer(buf.length);
      new Uint8Array(ab).set(buf);
      return new Ctor(ab);
    };
    st.ids = read('ids', Float64Array, 8);
    st.job = read('job', Uint32Array, 4);
    st.camera = read('camera', Uint32Array, 4);
    st.start = read('start', Float64Array, 8);
    st.end = read('end', Float64Array, 8);
    st.alive = read('alive', Uint8Array, 1);
    st.slots = n;
    st.jobs = new Dictionary(m.jobs);
    st.cameras = new Dictionary(m.cameras);
    for (let s = 0; s < n; s++) {
      st.jobPostings.add(st.job[s], s);
      st.cameraPostings.add(st.camera[s], s);
      if (st.alive[s] === 1) st.idToSlot.set(st.ids[s], s);
    }
    st.live = st.idToSlot.size;
    if (st.live !== m.live) throw new Error(`index in ${dir} has ${st.live} live entries, the manifest says ${m.live}`);
    return st;
  }
}

/** First index in the ascending list whose value is >= x. */
function lowerBound(list: Uint32Array, x: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function writeAll(fd: number, bytes: Uint8Array) {
  for (let off = 0; off < bytes.length; ) off += fs.writeSync(fd, bytes, off, bytes.length - off);
}
function readAll(fd: number, bytes: Uint8Array) {
  for (let off = 0; off < bytes.length; ) {
    const got = fs.readSync(fd, bytes, off, bytes.length - off, null);
    if (got === 0) throw new Error('vector file ended early');
    off += got;
  }
}

/** Bounded max-heap of (distance, slot): keeps the k smallest distances. */
export class TopK {
  readonly k: number;
  n = 0;
  private d: Float64Array;
  private s: Float64Array;
  constructor(k: number) {
    this.k = k;
    this.d = new Float64Array(k);
    this.s = new Float64Array(k);
  }
  /** The distance a new entry must beat once full. */
  get worst(): number {
    return this.n < this.k ? Infinity : this.d[0];
  }
  push(slot: number, dist: number): void {
    const { d, s } = this;
    if (this.n < this.k) {
      let i = this.n++;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (d[p] >= dist) break;
        d[i] = d[p];
        s[i] = s[p];
        i = p;
      }
      d[i] = dist;
      s[i] = slot;
      return;
    }
    if (dist >= d[0]) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= this.n) break;
      const r = l + 1;
      const c = r < this.n && d[r] > d[l] ? r : l;
      if (d[c] <= dist) break;
      d[i] = d[c];
      s[i] = s[c];
      i = c;
    }
    d[i] = dist;
    s[i] = slot;
  }
  /** Entries nearest first (ties by slot, so results are deterministic). */
  sorted(): { slot: number; distance: number }[] {
    const out = [];
    for (let i = 0; i < this.n; i++) out.push({ slot: this.s[i], distance: this.d[i] });
    return out.sort((a, b) => a.distance - b.distance || a.slot - b.slot);
  }
}

/** Writes a directory by filling a temporary sibling and swapping it in, so a crash never leaves half an index. */
export function replaceDir(dir: string, fill: (tmp: string) => void): void {
  const tmp = freshTempDir(dir, 'tmp');
  try {
    fill(tmp);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  swapDirInto(tmp, dir);
}

/** An empty sibling directory of `dir` (`<dir>.<tag>-<pid>`), for building its next version. */
export function freshTempDir(dir: string, tag: string): string {
  const abs = path.resolve(dir);
  fs.mkdirSync(path.dirname(abs), { recursive: true });
  const tmp = `${abs}.${tag}-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp);
  return tmp;
}

/** Puts the complete directory `tmp` in place of `dir` by renames (a crash in between leaves no `dir`, never half of one). */
export function swapDirInto(tmp: string, dir: string): void {
  const abs = path.resolve(dir);
  const old = `${abs}.old-${process.pid}`;
  const had = fs.existsSync(abs);
  if (had) {
    fs.rmSync(old, { recursive: true, force: true });
    fs.renameSync(abs, old);
  }
  fs.renameSync(tmp, abs);
  if (had) fs.rmSync(old, { recursive: true, force: true });
}
