// ByteTrack-style "match only below a cost limit" (lap.lapjv with extend_cost and cost_limit) on top of the
// project's linear assignment solver (eval/lap.ts, Jonker-Volgenant as in SciPy).
import { linearSumAssignment } from '@mei/vision/lap';

export interface Matching {
  matches: Array<[number, number]>;
  unmatchedRows: number[];
  unmatchedCols: number[];
}

/**
 * Matches rows to columns minimising total cost, where leaving a row or column unmatched costs limit/2
 * (so a pair is only taken when its cost is below `limit`, like lap.lapjv(extend_cost, cost_limit)).
 * Entries that are Infinity / NaN / above `limit` are never matched.
 */
export function matchWithLimit(cost: ArrayLike<number>, rows: number, cols: number, limit: number): Matching {
  if (rows === 0 || cols === 0) {
    return { matches: [], unmatchedRows: [...Array(rows).keys()], unmatchedCols: [...Array(cols).keys()] };
  }
  // Extended square matrix [[C, D_r], [D_c, 0]]: D_r / D_c hold limit/2 on the diagonal ("stay unmatched"),
  // and `big` elsewhere, so any pair dearer than limit loses to leaving both sides unmatched.
  const n = rows + cols;
  const big = limit * 4 + 1;
  const half = limit / 2;
  const m = new Float64Array(n * n).fill(big);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const v = cost[r * cols + c];
      m[r * n + c] = Number.isFinite(v) && v <= limit ? v : big;
    }
    m[r * n + cols + r] = half;
  }
  for (let c = 0; c < cols; c++) {
    m[(rows + c) * n + c] = half;
    for (let k = 0; k < rows; k++) m[(rows + c) * n + cols + k] = 0;
  }
  const solved = linearSumAssignment(m, n, n);
  const matches: Array<[number, number]> = [];
  const rowDone = new Uint8Array(rows);
  const colDone = new Uint8Array(cols);
  for (let k = 0; k < solved.rows.length; k++) {
    const r = solved.rows[k];
    const c = solved.cols[k];
    if (r < rows && c < cols && m[r * n + c] <= limit) {
      matches.push([r, c]);
      rowDone[r] = 1;
      colDone[c] = 1;
    }
  }
  return {
    matches,
    unmatchedRows: [...Array(rows).keys()].filter((r) => !rowDone[r]),
    unmatchedCols: [...Array(cols).keys()].filter((c) => !colDone[c]),
  };
}
