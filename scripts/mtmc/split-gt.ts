// Cuts one video's MOTChallenge ground truth into virtual cameras (regions of the frame), the way the
// multi-camera benchmark cuts the video with spec.cameras[].roi:
//  - a gt box belongs to a camera when at least half of its area lies inside the camera's region;
//  - its coordinates move to the camera's own pixels and are clipped to them (the camera sees no more);
//  - ids stay the gt ids, so the same person has the same id in every camera (global identities).
// CLI: node --import tsx scripts/mtmc/split-gt.ts --gt <gt.txt> [--split <file.json>] --out <dir>
//      writes <dir>/<camera>.gt.txt per camera (frame,id,x,y,w,h,flag,-1,-1,-1).
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { readMotFile, writeMotFile, type MotBox, type MotRow } from '../../tools/src/mot-eval/index.ts';

export interface CameraRegion {
  name: string;
  x: number;
  y: number;
  w: number;
  h: number;
}

export const DEFAULT_SPLIT = fileURLToPath(new URL('../splits/pets-two-cameras.json', import.meta.url));

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Validates a split (JSON list of regions); errors name the entry and field, e.g. `split[1].w`. */
export function parseSplit(value: unknown, source = 'split', frame?: { width: number; height: number }): CameraRegion[] {
  if (!Array.isArray(value) || value.length === 0) throw new Error(`${source}: must be a non-empty JSON list of {name, x, y, w, h}`);
  const names = new Set<string>();
  return value.map((r, i) => {
    const at = `${source}[${i}]`;
    if (typeof r !== 'object' || r === null) throw new Error(`${at}: must be an object {name, x, y, w, h}`);
    const o = r as Record<string, unknown>;
    if (typeof o.name !== 'string' || !DNS_LABEL.test(o.name) || o.name.length > 63) {
      throw new Error(`${at}.name: must be a camera name (lowercase letters, digits, '-'; at most 63), got ${JSON.stringify(o.name)}`);
    }
    if (names.has(o.name)) throw new Error(`${at}.name: duplicate camera "${o.name}"`);
    names.add(o.name);
    for (const k of ['x', 'y', 'w', 'h'] as const) {
      const v = o[k];
      const min = k === 'w' || k === 'h' ? 16 : 0;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new Error(`${at}.${k}: must be an integer >= ${min}, got ${JSON.stringify(v)}`);
    }
    const reg = { name: o.name, x: o.x as number, y: o.y as number, w: o.w as number, h: o.h as number };
    if (frame && (reg.x + reg.w > frame.width || reg.y + reg.h > frame.height)) {
      throw new Error(`${at}: region ${reg.x},${reg.y} ${reg.w}x${reg.h} does not fit the ${frame.width}x${frame.height} frame`);
    }
    return reg;
  });
}

export function loadSplit(file = DEFAULT_SPLIT, frame?: { width: number; height: number }): CameraRegion[] {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`);
  }
  return parseSplit(json, file, frame);
}

function intersection(b: { x: number; y: number; w: number; h: number }, r: CameraRegion) {
  const x1 = Math.max(b.x, r.x);
  const y1 = Math.max(b.y, r.y);
  const x2 = Math.min(b.x + b.w, r.x + r.w);
  const y2 = Math.min(b.y + b.h, r.y + r.h);
  return { x: x1, y: y1, w: Math.max(0, x2 - x1), h: Math.max(0, y2 - y1) };
}

/** The gt rows each camera sees, in the camera's pixels (MotBox with conf = the gt flag). */
export function splitGroundTruth(rows: readonly MotRow[], regions: readonly CameraRegion[]): Map<string, MotBox[]> {
  const out = new Map<string, MotBox[]>(regions.map((r) => [r.name, []]));
  for (const row of rows) {
    const area = row.w * row.h;
    if (!(area > 0)) continue;
    for (const r of regions) {
      const inter = intersection(row, r);
      if (inter.w * inter.h < 0.5 * area) continue;
      out.get(r.name)!.push({ frame: row.frame, id: row.id, x: round(inter.x - r.x), y: round(inter.y - r.y), w: round(inter.w), h: round(inter.h), conf: row.conf });
    }
  }
  return out;
}

/** Millipixels are plenty; avoids 32.91300000000001 in the files. */
const round = (v: number) => Math.round(v * 1000) / 1000;

/** Pairs of regions that share pixels: those cameras overlap (a person may be in both at once). */
export function regionOverlaps(regions: readonly CameraRegion[]): Map<string, string[]> {
  const out = new Map<string, string[]>(regions.map((r) => [r.name, []]));
  regions.forEach((a, i) =>
    regions.slice(i + 1).forEach((b) => {
      const inter = intersection(a, b);
      if (inter.w > 0 && inter.h > 0) {
        out.get(a.name)!.push(b.name);
        out.get(b.name)!.push(a.name);
      }
    }),
  );
  return out;
}

/**
 * All cameras' boxes as one sequence: camera k's frames move by k * framesPerCamera, so one IDF1
 * computation over the result scores identities across cameras (ids are global on both sides).
 */
export function concatCameras(perCamera: ReadonlyMap<string, readonly MotBox[]>, order: readonly string[], framesPerCamera: number): MotBox[] {
  const out: MotBox[] = [];
  order.forEach((name, k) => {
    for (const b of perCamera.get(name) ?? []) {
      if (b.frame < 1 || b.frame > framesPerCamera) throw new RangeError(`camera ${name}: frame ${b.frame} outside 1..${framesPerCamera}`);
      out.push({ ...b, frame: b.frame + k * framesPerCamera });
    }
  });
  return out;
}

function main(argv: string[]): void {
  const arg = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const gtFile = arg('--gt') ?? path.join(process.env.MEI_DATA_DIR ?? '', 'PETS09-S2L1/gt/gt.txt');
  const out = arg('--out');
  if (!out) throw new Error('--out <dir> is required');
  const regions = loadSplit(arg('--split') ?? DEFAULT_SPLIT);
  const gt = readMotFile(gtFile, { kind: 'gt' });
  mkdirSync(out, { recursive: true });
  for (const [name, boxes] of splitGroundTruth(gt.rows, regions)) {
    const file = path.join(out, `${name}.gt.txt`);
    writeMotFile(file, boxes);
    console.log(`${file}: ${boxes.length} boxes, ${new Set(boxes.map((b) => b.id)).size} ids`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  try {
    main(process.argv.slice(2));
  } catch (e) {
    console.error(`split-gt: ${(e as Error).message}`);
    process.exit(1);
  }
}
