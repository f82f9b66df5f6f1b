import { describe, expect, it } from 'vitest';
import { gatingDistance, initiate, invert4, predict, stateToBox, toMeasurement, update, CHI2_4_95 } from '../src/tracker/kalman.ts';

describe('Kalman filter (constant velocity, xywh)', () => {
  it('learns a constant velocity and predicts through a gap', () => {
    const box = (t: number) => ({ x: 100 + 5 * t, y: 50 - 2 * t, w: 30, h: 80 });
    const kf = initiate(toMeasurement(box(0)));
    for (let t = 1; t <= 30; t++) {
      predict(kf);
      update(kf, toMeasurement(box(t)));
    }
    // Velocity noise is small (people change speed slowly), so it converges over a few dozen frames.
    expect(Math.abs(kf.mean[4] - 5)).toBeLessThan(0.3);
    expect(Math.abs(kf.mean[5] + 2)).toBeLessThan(0.3);
    // Five frames without measurements: the prediction follows the motion.
    for (let t = 31; t <= 35; t++) predict(kf);
    const b = stateToBox(kf.mean);
    expect(Math.abs(b.x - box(35).x)).toBeLessThan(2);
    expect(Math.abs(b.y - box(35).y)).toBeLessThan(2);
    expect(Math.abs(b.w - 30)).toBeLessThan(1);
  });

  it('grows uncertainty while predicting and shrinks it on update', () => {
    const kf = initiate(toMeasurement({ x: 0, y: 0, w: 20, h: 50 }));
    const p0 = kf.cov[0];
    predict(kf);
    const p1 = kf.cov[0];
    expect(p1).toBeGreaterThan(p0);
    update(kf, toMeasurement({ x: 0, y: 0, w: 20, h: 50 }));
    expect(kf.cov[0]).toBeLessThan(p1);
  });

  it('gates: a nearby measurement is inside the chi-square gate, a far one outside', () => {
    const kf = initiate(toMeasurement({ x: 100, y: 100, w: 30, h: 80 }));
    predict(kf);
    expect(gatingDistance(kf, toMeasurement({ x: 102, y: 101, w: 30, h: 80 }))).toBeLessThan(CHI2_4_95);
    expect(gatingDistance(kf, toMeasurement({ x: 300, y: 100, w: 30, h: 80 }))).toBeGreaterThan(CHI2_4_95);
  });

  it('inverts a 4x4 matrix', () => {
    const m = Float64Array.from([4, 1, 0, 0, 1, 3, 0.5, 0, 0, 0.5, 2, 0.1, 0, 0, 0.1, 1]);
    const inv = invert4(m);
    for (let i = 0; i < 4; i++) {
      for (let j = 0; j < 4; j++) {
        let s = 0;
        for (let k = 0; k < 4; k++) s += m[i * 4 + k] * inv[k * 4 + j];
        expect(s).toBeCloseTo(i === j ? 1 : 0, 10);
      }
    }
  });
});
