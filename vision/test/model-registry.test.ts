import { describe, expect, it } from 'vitest';
import { NANODET_DEFAULTS, NANODET_INPUT, NANODET_ONNX_FILE } from '../src/detectors/nanodet/index.ts';
import { findModel, MODEL_ALIASES, MODEL_REGISTRY } from '../src/models/registry.ts';
import { ModelError, resolveDetectorModel } from '../src/models/resolve.ts';

describe('model registry: the packaged NanoDet', () => {
  it('is registered as nanodet-g with the detector module\'s own file name and input contract', () => {
    const e = MODEL_REGISTRY['nanodet-g'];
    expect(e.name).toBe('nanodet-g');
    expect(e.decoder).toBe('nanodet');
    expect(e.file).toBe(NANODET_ONNX_FILE);
    expect(e.input).toMatchObject({ ...NANODET_INPUT, width: NANODET_DEFAULTS.inputWidth, height: NANODET_DEFAULTS.inputHeight });
    expect(e.input.channelOrder).toBe('bgr');
    expect('nanodet-m' in MODEL_REGISTRY).toBe(false);
  });

  it('still accepts the old name nanodet-m as an alias of the same entry', () => {
    expect(MODEL_ALIASES['nanodet-m']).toBe('nanodet-g');
    expect(findModel('nanodet-m')).toBe(MODEL_REGISTRY['nanodet-g']);
    // Converted at first use: resolves without a model folder, to the same input as the new name.
    const old = resolveDetectorModel({ name: 'nanodet-m', decoder: 'nanodet' }, {});
    const now = resolveDetectorModel({ name: 'nanodet-g', decoder: 'nanodet' }, {});
    expect(old).toEqual(now);
    expect(old.entry?.name).toBe('nanodet-g');
  });

  it('does not resolve unknown names or Object.prototype keys, and lists real names in the error', () => {
    expect(findModel('toString')).toBeUndefined();
    expect(findModel('nanodet-x')).toBeUndefined();
    const err = (() => {
      try {
        resolveDetectorModel({ name: 'nanodet-x', decoder: 'nanodet' }, {});
      } catch (e) {
        return e as ModelError;
      }
    })();
    expect(err).toBeInstanceOf(ModelError);
    expect(err?.field).toBe('spec.models.detector.name');
    expect(err?.message).toMatch(/unknown detector model 'nanodet-x' \(known: yolox-nano, nanodet-g, yolox-nano-int8\)/);
  });
});
