import { describe, expect, it } from 'vitest';
import { matchWithLimit } from '../src/tracker/assignment.ts';

function bruteForceLimited(cost: number[], rows: number, cols: number, limit: number): number {
  // Best total over all partial matchings, where every unmatched row or column costs limit / 2.
  let best = Infinity;
  const usedCols = new Array(cols).fill(false);
  const rec = (r: number, acc: number, matched: number) => {
    if (r === rows) {
      best = Math.min(best, acc + (rows + cols - 2 * matched) * (limit / 2));
      return;
    }
    rec(r + 1, acc, matched);
    for (let c = 0; c < cols; c++) {
      if (usedCols[c] || !(cost[r * cols + c] <= limit)) continue;
      usedCols[c] = true;
      rec(r + 1, acc + cost[r * cols + c], matched + 1);
      usedCols[c] = false;
    }
  };
  rec(0, 0, 0);
  return best;
}

describe('matchWithLimit', () => {
  it('leaves pairs above the limit unmatched instead of forcing them', () => {
    // Row 0 fits column 0; row 1 only fits column 0 too (cost 0.3), its alternative 0.95 is over the limit.
    const m = matchWithLimit([0.1, 0.9, 0.3, 0.95], 2, 2, 0.8);
    expect(m.matches).toEqual([[0, 0]]);
    expect(m.unmatchedRows).toEqual([1]);
    expect(m.unmatchedCols).toEqual([1]);
  });

  it('never matches infinite (gated) entries and handles empty sides', () => {
    const m = matchWithLimit([Infinity, 0.2, Infinity, Infinity], 2, 2, 0.8);
    expect(m.matches).toEqual([[0, 1]]);
    expect(matchWithLimit([], 0, 3, 0.5)).toEqual({ matches: [], unmatchedRows: [], unmatchedCols: [0, 1, 2] });
  });

  it('finds the optimal partial matching on random matrices (checked by brute force)', () => {
    let seed = 11;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    for (const [rows, cols] of [[3, 3], [2, 5], [5, 2], [4, 4]]) {
      for (let trial = 0; trial < 25; trial++) {
        const cost = Array.from({ length: rows * cols }, () => (rand() < 0.2 ? Infinity : rand()));
        const m = matchWithLimit(cost, rows, cols, 0.8);
        const total = m.matches.reduce((s, [r, c]) => s + cost[r * cols + c], 0) + (m.unmatchedRows.length + m.unmatchedCols.length) * 0.4;
        expect(total).toBeCloseTo(bruteForceLimited(cost, rows, cols, 0.8), 8);
        expect(m.matches.length + m.unmatchedRows.length).toBe(rows);
        expect(m.matches.length + m.unmatchedCols.length).toBe(cols);
      }
    }
  });

  it('prefers two good matches over one perfect and one bad one', () => {
    // Greedy would take (0,0)=0 and then be left with (1,1)=0.75; the optimum under limit 0.8 is the cross.
    const m = matchWithLimit([0, 0.3, 0.3, 0.75], 2, 2, 0.8);
    expect(m.matches).toEqual([
      [0, 1],
      [1, 0],
    ]);
  });
});
