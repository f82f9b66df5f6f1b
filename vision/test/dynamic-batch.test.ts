// withDynamicBatch (issue #16, bench:batch): the YOLOX release export, fixed at batch 1, re-declared with a
// batch dimension runs two frames in one call with the outputs of two single runs.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openOnnxModel } from '../src/detectors/onnxSession.ts';
import { withDynamicBatch } from '../src/models/inputSize.ts';
import { MODEL_DIR } from '../../test/support/shared-data.ts';

describe('withDynamicBatch', () => {
  it('YOLOX-nano: batch of 2 equals two runs of one', async () => {
    const file = path.join(MODEL_DIR, 'yolox_nano.onnx');
    const model = await openOnnxModel(file, { threads: 1, field: 'test' }, withDynamicBatch(file, undefined));
    try {
      expect(model.inputShape?.[0]).toBe('batch');
      const per = 3 * 416 * 416;
      const input = new Float32Array(2 * per).map((_, i) => ((i * 7919) % 255) / 255);
      const both = await model.run(input, [2, 3, 416, 416]);
      expect(both.dims).toEqual([2, 3549, 85]);
      for (let k = 0; k < 2; k++) {
        const one = await model.run(input.subarray(k * per, (k + 1) * per), [1, 3, 416, 416]);
        const part = both.data.subarray(k * one.data.length, (k + 1) * one.data.length);
        let worst = 0;
        for (let i = 0; i < one.data.length; i++) worst = Math.max(worst, Math.abs(part[i] - one.data[i]));
        expect(worst).toBeLessThan(1e-3);
      }
    } finally {
      await model.dispose();
    }
  });
});
