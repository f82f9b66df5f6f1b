// MOTChallenge text files: frame,id,bb_left,bb_top,bb_width,bb_height,conf,... (one box per line).
// Ground truth comes in two layouts that only the column count tells apart:
//   MOT15 gt (10 columns): ..., flag, world x, world y, world z
//   MOT16+ gt (9 columns): ..., flag, class, visibility
// In both, flag 0 (column 7) marks a box that is not evaluated.
import { readFileSync, writeFileSync } from 'node:fs';

export type MotGtFormat = 'mot15' | 'mot16';
export type MotFormatOption = MotGtFormat | 'auto';

/** MOT16+ class ids (column 8 of gt). */
export const MOT_CLASSES = {
  pedestrian: 1,
  person_on_vehicle: 2,
  car: 3,
  bicycle: 4,
  motorbike: 5,
  non_mot_vehicle: 6,
  static_person: 7,
  distractor: 8,
  occluder: 9,
  occluder_on_ground: 10,
  occluder_full: 11,
  reflection: 12,
  crowd: 13,
} as const;

/** A box to write: what a file holds per line. */
export interface MotBox {
  frame: number;
  id: number;
  x: number;
  y: number;
  w: number;
  h: number;
  /** Results: detection confidence. Ground truth: the evaluate flag (0 = not counted). Default 1 when written. */
  conf?: number;
  /** MOT16+ gt only: object class (1 = pedestrian). */
  classId?: number;
  /** MOT16+ gt only: visible fraction 0..1. */
  visibility?: number;
}

/** A box as read: conf always present. */
export interface MotRow extends MotBox {
  conf: number;
  /** 1-based line in the source file, for error messages. */
  line: number;
}

export interface MotFile {
  source: string;
  kind: 'gt' | 'res';
  /** Layout of a gt file (results are always read as frame,id,box,conf). */
  format: MotGtFormat;
  rows: MotRow[];
}

const COLUMN_NAMES = ['frame', 'id', 'bb_left', 'bb_top', 'bb_width', 'bb_height', 'conf'];

function columnName(col: number, format: MotGtFormat, kind: 'gt' | 'res'): string {
  if (col <= COLUMN_NAMES.length) return col === 7 && kind === 'gt' ? 'flag' : COLUMN_NAMES[col - 1];
  if (kind === 'gt' && format === 'mot16') return col === 8 ? 'class' : col === 9 ? 'visibility' : `column ${col}`;
  return ['x', 'y', 'z'][col - 8] ?? `column ${col}`;
}

/** A malformed line; line and column are 1-based. */
export class MotFormatError extends Error {
  readonly source: string;
  readonly line: number;
  readonly column?: number;
  constructor(source: string, line: number, column: number | undefined, message: string) {
    super(`${source}:${line}${column ? `:${column}` : ''}: ${message}`);
    this.name = 'MotFormatError';
    this.source = source;
    this.line = line;
    this.column = column;
  }
}

/** A file that cannot be read (missing, unreadable). */
export class MotReadError extends Error {
  readonly file: string;
  constructor(file: string, message: string) {
    super(message);
    this.name = 'MotReadError';
    this.file = file;
  }
}

export interface ParseMotOptions {
  kind: 'gt' | 'res';
  /** Name used in error messages (usually the path). */
  source?: string;
  /** Ground-truth layout; 'auto' picks mot16 for 9-column files, mot15 otherwise. */
  format?: MotFormatOption;
  /** Added to every frame number (e.g. 1 for 0-based frame files). */
  frameOffset?: number;
}

/** Fields split like py-motmetrics does: commas (with optional spaces) or runs of whitespace. */
function splitFields(line: string): string[] {
  const t = line.trim();
  const fields = t.includes(',') ? t.split(/\s*,\s*/) : t.split(/\s+/);
  if (fields.length > 1 && fields[fields.length - 1] === '') fields.pop(); // trailing comma
  return fields;
}

export function parseMot(text: string, opts: ParseMotOptions): MotFile {
  const source = opts.source ?? (opts.kind === 'gt' ? 'gt' : 'results');
  const offset = opts.frameOffset ?? 0;
  if (!Number.isInteger(offset)) throw new RangeError(`frameOffset must be an integer, got ${offset}`);
  const lines = text.split(/\r?\n/);
  let format: MotGtFormat | undefined = opts.format === 'auto' || opts.format === undefined ? undefined : opts.format;
  if (opts.kind === 'res') format = 'mot15';
  const rows: MotRow[] = [];
  for (let n = 0; n < lines.length; n++) {
    const lineNo = n + 1;
    if (lines[n].trim() === '') continue;
    const fields = splitFields(lines[n]);
    if (format === undefined) format = fields.length === 9 ? 'mot16' : 'mot15';
    const fail = (col: number | undefined, msg: string): never => {
      throw new MotFormatError(source, lineNo, col, msg);
    };
    if (fields.length < 6) {
      fail(undefined, `expected at least 6 comma-separated columns (frame,id,bb_left,bb_top,bb_width,bb_height), got ${fields.length}`);
    }
    const values = fields.map((f, k) => {
      const v = f === '' ? NaN : Number(f);
      if (!Number.isFinite(v)) fail(k + 1, `${columnName(k + 1, format!, opts.kind)} is not a number: '${f}'`);
      return v;
    });
    const [frameRaw, id, x, y, w, h] = values;
    if (!Number.isInteger(frameRaw)) fail(1, `frame must be an integer, got '${fields[0]}'`);
    const frame = frameRaw + offset;
    if (frame < 1) {
      fail(1, `frame ${frame}${offset ? ` (after frame offset ${offset})` : ''} is below 1; MOTChallenge frames are 1-based`);
    }
    if (!Number.isInteger(id)) fail(2, `id must be an integer, got '${fields[1]}'`);
    if (w < 0) fail(5, `bb_width must be >= 0, got ${w}`);
    if (h < 0) fail(6, `bb_height must be >= 0, got ${h}`);
    const row: MotRow = { frame, id, x, y, w, h, conf: values.length > 6 ? values[6] : 1, line: lineNo };
    if (opts.kind === 'gt' && format === 'mot16') {
      if (values.length < 9) {
        fail(undefined, `MOT16+ ground truth needs 9 columns (frame,id,box,flag,class,visibility), got ${values.length}`);
      }
      const cls = values[7];
      if (!Number.isInteger(cls) || cls < 1 || cls > 13) {
        fail(8, `class must be an integer 1..13 in MOT16+ ground truth, got '${fields[7]}' (for a MOT15 file with world coordinates use format mot15)`);
      }
      row.classId = cls;
      row.visibility = values[8];
    }
    rows.push(row);
  }
  return { source, kind: opts.kind, format: format ?? 'mot15', rows };
}

export function readMotFile(file: string, opts: Omit<ParseMotOptions, 'source'>): MotFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new MotReadError(file, `cannot read ${opts.kind === 'gt' ? 'ground-truth' : 'results'} file ${file}: ${err.code ?? err.message}`);
  }
  return parseMot(text, { ...opts, source: file });
}

/**
 * MOTChallenge lines, stably sorted by frame; numbers keep full precision. 'results' writes
 * frame,id,x,y,w,h,conf,-1,-1,-1; 'mot16-gt' writes frame,id,x,y,w,h,flag,class,visibility.
 */
export function formatMotRows(rows: readonly MotBox[], layout: 'results' | 'mot16-gt' = 'results'): string {
  const sorted = [...rows].sort((a, b) => a.frame - b.frame);
  return sorted
    .map((r) => {
      const head = `${r.frame},${r.id},${r.x},${r.y},${r.w},${r.h},${r.conf ?? 1}`;
      return layout === 'results' ? `${head},-1,-1,-1\n` : `${head},${r.classId ?? 1},${r.visibility ?? 1}\n`;
    })
    .join('');
}

export function writeMotFile(file: string, rows: readonly MotBox[], layout: 'results' | 'mot16-gt' = 'results'): void {
  writeFileSync(file, formatMotRows(rows, layout));
}
