// Linear assignment: optimal on random matrices (checked by brute force), fast at a few hundred ids.
import { describe, expect, it } from 'vitest';
import { assignWithForbidden, linearSumAssignment } from '@mei/vision/lap';
import { seededRandom as rng } from '../../test/support/random.ts';


/** Minimum over all assignments of min(rows, cols) pairs. */
function bruteForceMin(cost: Float64Array, rows: number, cols: number): number {
  let best = Infinity;
  const usedCol = new Array<boolean>(cols).fill(false);
  const usedRow = new Array<boolean>(rows).fill(false);
  const k = Math.min(rows, cols);
  const rec = (depth: number, start: number, sum: number) => {
    if (depth === k) {
      best = Math.min(best, sum);
      return;
    }
    // Choose pairs with strictly increasing row index to avoid repeats.
    for (let i = start; i < rows; i++) {
      if (usedRow[i]) continue;
      usedRow[i] = true;
      for (let j = 0; j < cols; j++) {
        if (usedCol[j]) continue;
        usedCol[j] = true;
        rec(depth + 1, i + 1, sum + cost[i * cols + j]);
        usedCol[j] = false;
      }
      usedRow[i] = false;
    }
  };
  rec(0, 0, 0);
  return best;
}

function checkAssignment(a: { rows: number[]; cols: number[] }, rows: number, cols: number): void {
  expect(a.rows.length).toBe(Math.min(rows, cols));
  expect(new Set(a.rows).size).toBe(a.rows.length);
  expect(new Set(a.cols).size).toBe(a.cols.length);
  expect([...a.rows]).toEqual([...a.rows].sort((x, y) => x - y));
}

describe('linearSumAssignment', () => {
  it('matches brute force on 300 random rectangular matrices (incl. ties and negatives)', () => {
    const r = rng(42);
    for (let t = 0; t < 300; t++) {
      const rows = 1 + Math.floor(r() * 6);
      const cols = 1 + Math.floor(r() * 6);
      const ties = t % 3 === 0;
      const cost = Float64Array.from({ length: rows * cols }, () => (ties ? Math.floor(r() * 3) : r() * 10 - 5));
      const a = linearSumAssignment(cost, rows, cols);
      checkAssignment(a, rows, cols);
      const sum = a.rows.reduce((s, i, k) => s + cost[i * cols + a.cols[k]], 0);
      expect(sum).toBeCloseTo(bruteForceMin(cost, rows, cols), 9);
    }
  });

  it('solves a constant matrix as the identity (like scipy)', () => {
    expect(linearSumAssignment(new Float64Array(9).fill(1), 3, 3)).toEqual({ rows: [0, 1, 2], cols: [0, 1, 2] });
  });

  it('solves 400 x 400 and beats greedy', () => {
    const r = rng(7);
    const n = 400;
    const cost = Float64Array.from({ length: n * n }, () => r());
    const a = linearSumAssignment(cost, n, n);
    checkAssignment(a, n, n);
    const sum = a.rows.reduce((s, i, k) => s + cost[i * n + a.cols[k]], 0);
    let greedy = 0;
    const used = new Set<number>();
    for (let i = 0; i < n; i++) {
      let bj = -1;
      for (let j = 0; j < n; j++) if (!used.has(j) && (bj < 0 || cost[i * n + j] < cost[i * n + bj])) bj = j;
      used.add(bj);
      greedy += cost[i * n + bj];
    }
    expect(sum).toBeLessThan(greedy);
  });

  it('rejects NaN costs and a wrong size', () => {
    expect(() => linearSumAssignment([0, NaN], 1, 2)).toThrow(/cost\[0\]\[1\] is not finite/);
    expect(() => linearSumAssignment([0, 1, 2], 2, 2)).toThrow(/expected 2x2=4/);
  });
});

describe('assignWithForbidden', () => {
  it('first maximises the number of allowed pairs, then minimises their cost', () => {
    // Alone, (0,0) costs 0; but (0,1) + (1,0) matches two pairs, which py-motmetrics prefers.
    expect(assignWithForbidden([0, 0.4, 0.3, NaN], 2, 2)).toEqual({ rows: [0, 1], cols: [1, 0] });
  });

  it('drops forbidden pairs and handles all-forbidden matrices', () => {
    expect(assignWithForbidden([NaN, 0.2, NaN, NaN], 2, 2)).toEqual({ rows: [0], cols: [1] });
    expect(assignWithForbidden([NaN, NaN], 1, 2)).toEqual({ rows: [], cols: [] });
  });
});
