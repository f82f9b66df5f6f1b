// Linear assignment (min-cost bipartite matching) for dense rectangular matrices.
// Shortest-augmenting-path method of Jonker-Volgenant as described by Crouse (IEEE TAES 2016), the
// same algorithm scipy.optimize.linear_sum_assignment uses, so ties resolve the way py-motmetrics and
// TrackEval see them. O(n^2 m): a few hundred ids solve in milliseconds.

export interface Assignment {
  /** Row index of each assigned pair, ascending. */
  rows: number[];
  /** Column index of each assigned pair (same order as rows). */
  cols: number[];
}

/**
 * Minimum-cost assignment of a rows x cols cost matrix given row-major. Assigns min(rows, cols) pairs.
 * Costs must be finite (use assignWithForbidden for pairs that may not be matched).
 */
export function linearSumAssignment(cost: ArrayLike<number>, rows: number, cols: number): Assignment {
  if (cost.length !== rows * cols) {
    throw new RangeError(`cost has ${cost.length} entries, expected ${rows}x${cols}=${rows * cols}`);
  }
  if (rows === 0 || cols === 0) return { rows: [], cols: [] };
  for (let k = 0; k < cost.length; k++) {
    if (!Number.isFinite(cost[k])) throw new RangeError(`cost[${Math.floor(k / cols)}][${k % cols}] is not finite`);
  }
  // The method needs rows <= cols; solve the transpose otherwise.
  const transpose = rows > cols;
  const nr = transpose ? cols : rows;
  const nc = transpose ? rows : cols;
  const c = new Float64Array(nr * nc);
  if (transpose) {
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) c[j * nc + i] = cost[i * cols + j];
  } else {
    for (let k = 0; k < c.length; k++) c[k] = cost[k];
  }
  const col4row = solveRowsLeCols(c, nr, nc);
  const pairs: Array<[number, number]> = [];
  for (let i = 0; i < nr; i++) pairs.push(transpose ? [col4row[i], i] : [i, col4row[i]]);
  if (transpose) pairs.sort((a, b) => a[0] - b[0]);
  return { rows: pairs.map((p) => p[0]), cols: pairs.map((p) => p[1]) };
}

function solveRowsLeCols(cost: Float64Array, nr: number, nc: number): Int32Array {
  const u = new Float64Array(nr);
  const v = new Float64Array(nc);
  const shortest = new Float64Array(nc);
  const path = new Int32Array(nc).fill(-1);
  const col4row = new Int32Array(nr).fill(-1);
  const row4col = new Int32Array(nc).fill(-1);
  const visitedRow = new Uint8Array(nr);
  const visitedCol = new Uint8Array(nc);
  const remaining = new Int32Array(nc);

  for (let curRow = 0; curRow < nr; curRow++) {
    // Dijkstra-like search for the shortest augmenting path from curRow to a free column.
    let minVal = 0;
    let numRemaining = nc;
    // Reverse order makes a constant matrix resolve to the identity (as scipy does).
    for (let it = 0; it < nc; it++) remaining[it] = nc - it - 1;
    visitedRow.fill(0);
    visitedCol.fill(0);
    shortest.fill(Infinity);
    let i = curRow;
    let sink = -1;
    while (sink === -1) {
      let index = -1;
      let lowest = Infinity;
      visitedRow[i] = 1;
      const base = i * nc;
      for (let it = 0; it < numRemaining; it++) {
        const j = remaining[it];
        const r = minVal + cost[base + j] - u[i] - v[j];
        if (r < shortest[j]) {
          path[j] = i;
          shortest[j] = r;
        }
        // Among equal costs prefer a free column: it ends the search sooner.
        if (shortest[j] < lowest || (shortest[j] === lowest && row4col[j] === -1)) {
          lowest = shortest[j];
          index = it;
        }
      }
      minVal = lowest;
      if (index === -1 || minVal === Infinity) throw new Error('assignment infeasible');
      const j = remaining[index];
      if (row4col[j] === -1) sink = j;
      else i = row4col[j];
      visitedCol[j] = 1;
      remaining[index] = remaining[--numRemaining];
    }
    // Update the dual variables.
    u[curRow] += minVal;
    for (let r = 0; r < nr; r++) {
      if (visitedRow[r] && r !== curRow) u[r] += minVal - shortest[col4row[r]];
    }
    for (let j = 0; j < nc; j++) {
      if (visitedCol[j]) v[j] -= minVal - shortest[j];
    }
    // Augment along the path.
    let j = sink;
    for (;;) {
      const r = path[j];
      row4col[j] = r;
      const prev = col4row[r];
      col4row[r] = j;
      j = prev;
      if (r === curRow) break;
    }
  }
  return col4row;
}

/**
 * Min-cost assignment where NaN or +/-Infinity marks a pair that must not be matched. Follows
 * py-motmetrics (lap.add_expensive_edges): forbidden pairs get a cost so large that the solver first
 * maximises the number of allowed pairs, then minimises their cost; forbidden pairs are dropped.
 */
export function assignWithForbidden(cost: ArrayLike<number>, rows: number, cols: number): Assignment {
  if (rows === 0 || cols === 0) return { rows: [], cols: [] };
  let maxAbs = -1;
  for (let k = 0; k < cost.length; k++) {
    if (Number.isFinite(cost[k])) maxAbs = Math.max(maxAbs, Math.abs(cost[k]));
  }
  if (maxAbs < 0) return { rows: [], cols: [] };
  const large = 2 * Math.min(rows, cols) * (maxAbs + 1) + 1;
  const finite = new Float64Array(rows * cols);
  for (let k = 0; k < finite.length; k++) finite[k] = Number.isFinite(cost[k]) ? cost[k] : large;
  const all = linearSumAssignment(finite, rows, cols);
  const out: Assignment = { rows: [], cols: [] };
  for (let k = 0; k < all.rows.length; k++) {
    if (Number.isFinite(cost[all.rows[k] * cols + all.cols[k]])) {
      out.rows.push(all.rows[k]);
      out.cols.push(all.cols[k]);
    }
  }
  return out;
}
