// MOTChallenge reader/writer: layouts, separators, and errors that name the line and column.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatMotRows, MotFormatError, parseMot, readMotFile, writeMotFile } from '../src/mot-eval/index.ts';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'mei-eval-format-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function parseError(text: string, opts: Parameters<typeof parseMot>[1]): MotFormatError {
  try {
    parseMot(text, opts);
  } catch (e) {
    expect(e).toBeInstanceOf(MotFormatError);
    return e as MotFormatError;
  }
  throw new Error('expected a MotFormatError');
}

describe('MOTChallenge file reader', () => {
  it('reads MOT15 gt (10 columns, world coordinates ignored), commas with spaces, blank lines', () => {
    const f = parseMot('1, 3, 10.5, 20, 30, 40, 1, -4.15, -7.35, 0\n\n2,3,11,21,30,40,0,-1,-1,-1\n', { kind: 'gt' });
    expect(f.format).toBe('mot15');
    expect(f.rows).toEqual([
      { frame: 1, id: 3, x: 10.5, y: 20, w: 30, h: 40, conf: 1, line: 1 },
      { frame: 2, id: 3, x: 11, y: 21, w: 30, h: 40, conf: 0, line: 3 },
    ]);
  });

  it('reads MOT16+ gt (9 columns) with class and visibility', () => {
    const f = parseMot('1,1,0,0,10,10,1,7,0.25\n', { kind: 'gt' });
    expect(f.format).toBe('mot16');
    expect(f.rows[0]).toMatchObject({ classId: 7, visibility: 0.25, conf: 1 });
  });

  it('reads whitespace-separated results and a trailing comma; conf defaults to 1', () => {
    expect(parseMot('1 2 3 4 5 6\n', { kind: 'res' }).rows[0]).toMatchObject({ frame: 1, id: 2, w: 5, h: 6, conf: 1 });
    expect(parseMot('1,2,3,4,5,6,0.9,\n', { kind: 'res' }).rows[0]).toMatchObject({ conf: 0.9 });
  });

  it('names line, column and field of a value that is not a number', () => {
    const e = parseError('1,1,0,0,10,10,1,-1,-1,-1\n2,1,abc,0,10,10,1,-1,-1,-1\n', { kind: 'gt', source: 'gt.txt' });
    expect(e).toMatchObject({ line: 2, column: 3 });
    expect(e.message).toBe("gt.txt:2:3: bb_left is not a number: 'abc'");
  });

  it('rejects short rows, fractional frames/ids and negative sizes', () => {
    expect(parseError('1,2,3,4,5\n', { kind: 'res' }).message).toMatch(/^results:1: expected at least 6 .* got 5$/);
    expect(parseError('1.5,2,3,4,5,6\n', { kind: 'res' })).toMatchObject({ line: 1, column: 1 });
    expect(parseError('1,2.5,3,4,5,6\n', { kind: 'res' })).toMatchObject({ line: 1, column: 2 });
    expect(parseError('1,2,3,4,-5,6\n', { kind: 'res' }).message).toMatch(/:1:5: bb_width must be >= 0/);
    expect(parseError('1,2,3,4,5,NaN\n', { kind: 'res' }).message).toMatch(/:1:6: bb_height is not a number/);
  });

  it('rejects frame 0 with a hint, and accepts it with a frame offset', () => {
    expect(parseError('0,1,0,0,1,1\n', { kind: 'res' }).message).toMatch(/frame 0 is below 1; MOTChallenge frames are 1-based/);
    expect(parseMot('0,1,0,0,1,1\n', { kind: 'res', frameOffset: 1 }).rows[0].frame).toBe(1);
  });

  it('MOT16 gt with a class outside 1..13 points at column 8 and the mot15 alternative', () => {
    const e = parseError('1,1,0,0,10,10,1,-4.15,0\n', { kind: 'gt' });
    expect(e).toMatchObject({ line: 1, column: 8 });
    expect(e.message).toMatch(/class must be an integer 1\.\.13.*use format mot15/);
    expect(parseMot('1,1,0,0,10,10,1,-4.15,0\n', { kind: 'gt', format: 'mot15' }).rows).toHaveLength(1);
  });

  it('readMotFile names a missing file', () => {
    expect(() => readMotFile(path.join(tmp, 'nope.txt'), { kind: 'gt' })).toThrow(/cannot read ground-truth file .*nope\.txt: ENOENT/);
  });
});

describe('MOTChallenge file writer', () => {
  it('round-trips results with full precision, sorted by frame', () => {
    const rows = [
      { frame: 2, id: 1, x: 0.1 + 0.2, y: 1 / 3, w: 10, h: 20.000000000000004, conf: 0.75 },
      { frame: 1, id: 9, x: 5, y: 6, w: 7, h: 8 },
    ];
    const file = path.join(tmp, 'res.txt');
    writeMotFile(file, rows);
    const back = readMotFile(file, { kind: 'res' }).rows;
    expect(back.map(({ line: _line, ...r }) => r)).toEqual([
      { frame: 1, id: 9, x: 5, y: 6, w: 7, h: 8, conf: 1 },
      { frame: 2, id: 1, x: 0.1 + 0.2, y: 1 / 3, w: 10, h: 20.000000000000004, conf: 0.75 },
    ]);
    expect(formatMotRows([rows[1]])).toBe('1,9,5,6,7,8,1,-1,-1,-1\n');
  });

  it('writes MOT16 gt that reads back as mot16', () => {
    const text = formatMotRows([{ frame: 1, id: 1, x: 1, y: 2, w: 3, h: 4, conf: 0, classId: 7, visibility: 0.5 }], 'mot16-gt');
    expect(text).toBe('1,1,1,2,3,4,0,7,0.5\n');
    expect(parseMot(text, { kind: 'gt' }).rows[0]).toMatchObject({ conf: 0, classId: 7, visibility: 0.5 });
  });
});
