// Constant-velocity Kalman filter on the box state (cx, cy, w, h, vcx, vcy, vw, vh), as in BoT-SORT:
// process and measurement noise scale with the box size, so small (far) and big (near) people behave alike.
// Matrices are row-major Float64Arrays (8x8 covariance); H = [I4 0] is applied implicitly.

const STD_POS = 1 / 20;
const STD_VEL = 1 / 160;

export interface KalmanState {
  mean: Float64Array; // 8
  cov: Float64Array; // 8x8
}

/** Measurement vector (cx, cy, w, h) from a top-left box. */
export function toMeasurement(b: { x: number; y: number; w: number; h: number }): Float64Array {
  return Float64Array.of(b.x + b.w / 2, b.y + b.h / 2, b.w, b.h);
}

export function stateToBox(mean: Float64Array): { x: number; y: number; w: number; h: number } {
  return { x: mean[0] - mean[2] / 2, y: mean[1] - mean[3] / 2, w: mean[2], h: mean[3] };
}

export function initiate(z: Float64Array): KalmanState {
  const mean = new Float64Array(8);
  mean.set(z.subarray(0, 4));
  const w = z[2];
  const h = z[3];
  const std = [2 * STD_POS * w, 2 * STD_POS * h, 2 * STD_POS * w, 2 * STD_POS * h, 10 * STD_VEL * w, 10 * STD_VEL * h, 10 * STD_VEL * w, 10 * STD_VEL * h];
  const cov = new Float64Array(64);
  for (let i = 0; i < 8; i++) cov[i * 9] = std[i] * std[i];
  return { mean, cov };
}

/** One time step: x += v; P = F P F' + Q. */
export function predict(s: KalmanState): void {
  const { mean, cov } = s;
  const w = mean[2];
  const h = mean[3];
  for (let i = 0; i < 4; i++) mean[i] += mean[i + 4];
  // F P F' with F = [[I, I], [0, I]]: first add the velocity rows into the position rows, then the columns.
  for (let r = 0; r < 4; r++) for (let c = 0; c < 8; c++) cov[r * 8 + c] += cov[(r + 4) * 8 + c];
  for (let r = 0; r < 8; r++) for (let c = 0; c < 4; c++) cov[r * 8 + c] += cov[r * 8 + c + 4];
  const q = [STD_POS * w, STD_POS * h, STD_POS * w, STD_POS * h, STD_VEL * w, STD_VEL * h, STD_VEL * w, STD_VEL * h];
  for (let i = 0; i < 8; i++) cov[i * 9] += q[i] * q[i];
}

/** Innovation covariance S = H P H' + R (4x4) for the current state. */
function projectCov(s: KalmanState): Float64Array {
  const { mean, cov } = s;
  const w = mean[2];
  const h = mean[3];
  const r = [STD_POS * w, STD_POS * h, STD_POS * w, STD_POS * h];
  const S = new Float64Array(16);
  for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) S[i * 4 + j] = cov[i * 8 + j];
  for (let i = 0; i < 4; i++) S[i * 5] += r[i] * r[i];
  return S;
}

/** Inverse of a symmetric positive definite 4x4 matrix (Gauss-Jordan with partial pivoting). */
export function invert4(m: Float64Array): Float64Array {
  const a = Float64Array.from(m);
  const inv = new Float64Array(16);
  for (let i = 0; i < 4; i++) inv[i * 5] = 1;
  for (let c = 0; c < 4; c++) {
    let p = c;
    for (let r = c + 1; r < 4; r++) if (Math.abs(a[r * 4 + c]) > Math.abs(a[p * 4 + c])) p = r;
    if (Math.abs(a[p * 4 + c]) < 1e-12) throw new Error('singular matrix');
    if (p !== c) {
      for (let k = 0; k < 4; k++) {
        [a[c * 4 + k], a[p * 4 + k]] = [a[p * 4 + k], a[c * 4 + k]];
        [inv[c * 4 + k], inv[p * 4 + k]] = [inv[p * 4 + k], inv[c * 4 + k]];
      }
    }
    const d = a[c * 4 + c];
    for (let k = 0; k < 4; k++) {
      a[c * 4 + k] /= d;
      inv[c * 4 + k] /= d;
    }
    for (let r = 0; r < 4; r++) {
      if (r === c) continue;
      const f = a[r * 4 + c];
      if (f === 0) continue;
      for (let k = 0; k < 4; k++) {
        a[r * 4 + k] -= f * a[c * 4 + k];
        inv[r * 4 + k] -= f * inv[c * 4 + k];
      }
    }
  }
  return inv;
}

/** Kalman update with measurement z = (cx, cy, w, h). */
export function update(s: KalmanState, z: Float64Array): void {
  const { mean, cov } = s;
  const Si = invert4(projectCov(s));
  // K = P H' S^-1 (8x4); P H' is the first four columns of P.
  const K = new Float64Array(32);
  for (let r = 0; r < 8; r++) {
    for (let c = 0; c < 4; c++) {
      let v = 0;
      for (let k = 0; k < 4; k++) v += cov[r * 8 + k] * Si[k * 4 + c];
      K[r * 4 + c] = v;
    }
  }
  const y = [z[0] - mean[0], z[1] - mean[1], z[2] - mean[2], z[3] - mean[3]];
  for (let r = 0; r < 8; r++) mean[r] += K[r * 4] * y[0] + K[r * 4 + 1] * y[1] + K[r * 4 + 2] * y[2] + K[r * 4 + 3] * y[3];
  // P -= K (H P): H P is the first four rows of P.
  const HP = cov.slice(0, 32);
  for (let r = 0; r < 8; r++) {
    for (let c = 0; c < 8; c++) {
      cov[r * 8 + c] -= K[r * 4] * HP[c] + K[r * 4 + 1] * HP[8 + c] + K[r * 4 + 2] * HP[16 + c] + K[r * 4 + 3] * HP[24 + c];
    }
  }
}

/** Squared Mahalanobis distance of a measurement from the predicted one (chi-square, 4 degrees of freedom). */
export function gatingDistance(s: KalmanState, z: Float64Array): number {
  const Si = invert4(projectCov(s));
  const y = [z[0] - s.mean[0], z[1] - s.mean[1], z[2] - s.mean[2], z[3] - s.mean[3]];
  let d = 0;
  for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) d += y[i] * Si[i * 4 + j] * y[j];
  return d;
}

/** 95 % quantile of chi-square with 4 degrees of freedom. */
export const CHI2_4_95 = 9.4877;
