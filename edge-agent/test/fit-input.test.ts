import { describe, expect, it } from 'vitest';
import { letterboxGeometry } from '@mei/vision/detectors/letterbox';
import { fitDetectorInput, knownFrameSize } from '../src/pipeline/fitInput.ts';
import { createCameraPipeline, pipelineThreads } from '../src/pipeline/pipeline.ts';
import { modelEnv, VTEST } from '../../test/support/shared-data.ts';

const YOLOX = { name: 'yolox-nano', decoder: 'yolox' as const };

describe('fitDetectorInput: the detector input at the frame aspect ratio, same scale as the padded square', () => {
  it('cuts the padding of 4:3, portrait and 16:9 frames to the next multiple of 32', () => {
    expect(fitDetectorInput(YOLOX, { width: 768, height: 576 })).toMatchObject({ inputWidth: 416, inputHeight: 320 });
    expect(fitDetectorInput(YOLOX, { width: 432, height: 576 })).toMatchObject({ inputWidth: 320, inputHeight: 416 });
    expect(fitDetectorInput(YOLOX, { width: 1920, height: 1080 })).toMatchObject({ inputWidth: 416, inputHeight: 256 });
    expect(fitDetectorInput({ name: 'nanodet-g', decoder: 'nanodet' }, { width: 768, height: 576 })).toMatchObject({ inputWidth: 416, inputHeight: 320 });
    // People appear at the same size in the fitted input as in the 416x416 letterbox.
    expect(letterboxGeometry(768, 576, 416, 320)).toEqual(letterboxGeometry(768, 576, 416, 416));
    expect(letterboxGeometry(1920, 1080, 416, 256)).toEqual(letterboxGeometry(1920, 1080, 416, 416));
  });

  it('leaves alone a size the user chose, a model file given by path, an unknown name and an unknown frame size', () => {
    const sized = { ...YOLOX, inputWidth: 544, inputHeight: 416 };
    expect(fitDetectorInput(sized, { width: 768, height: 576 })).toBe(sized);
    const file = { decoder: 'yolox' as const, name: 'yolox-nano', path: '/models/custom.onnx' };
    expect(fitDetectorInput(file, { width: 768, height: 576 })).toBe(file);
    const unknown = { name: 'nope', decoder: 'yolox' as const };
    expect(fitDetectorInput(unknown, { width: 768, height: 576 })).toBe(unknown);
    expect(fitDetectorInput(YOLOX, undefined)).toBe(YOLOX);
  });

  it('knows the frame size of a file (probe) and of an ROI, not of a stream or a missing file', async () => {
    expect(await knownFrameSize({ source: VTEST }, modelEnv())).toEqual({ width: 768, height: 576 });
    expect(await knownFrameSize({ source: VTEST, roi: { x: 336, y: 0, width: 432, height: 576 } }, modelEnv())).toEqual({ width: 432, height: 576 });
    expect(await knownFrameSize({ source: 'rtsp://127.0.0.1:8554/cam' }, modelEnv())).toBeUndefined();
    expect(await knownFrameSize({ source: '/nowhere/cam.avi' }, modelEnv())).toBeUndefined();
  });

  it('createCameraPipeline runs YOLOX-nano at 416x320 on the 768x576 video unless told not to', async () => {
    for (const [fit, name] of [[undefined, 'yolox-nano@416x320'], [false, 'yolox-nano@416x416']] as const) {
      const p = await createCameraPipeline({ camera: { source: VTEST }, models: { detector: YOLOX }, mode: 'history', maxFrames: 1, env: modelEnv(), fitDetectorInput: fit, histogramFallback: false });
      expect(p.detector.name).toBe(name);
      await p.dispose();
    }
  });
});

describe('pipelineThreads: the thread budget of the two networks', () => {
  const onnx = { detector: YOLOX, reid: { kind: 'onnx' as const, name: 'osnet-x0.25-msmt17' } };
  it('splits it when the detector worker and an ONNX ReID network run at once', () => {
    expect(pipelineThreads({ models: onnx })).toEqual({ detector: 1, embedder: 1 });
    expect(pipelineThreads({ models: onnx, threads: 3 })).toEqual({ detector: 2, embedder: 1 });
    expect(pipelineThreads({ models: onnx, threads: 1 })).toEqual({ detector: 1, embedder: 1 });
  });
  it('gives each network all of it otherwise, and follows an explicit ReID count', () => {
    expect(pipelineThreads({ models: { detector: YOLOX, reid: { kind: 'histogram' } } })).toEqual({ detector: 2, embedder: 2 });
    expect(pipelineThreads({ models: onnx, detectorWorker: false, threads: 2 })).toEqual({ detector: 2, embedder: 2 });
    expect(pipelineThreads({ models: onnx, threads: 2, embedderThreads: 2 })).toEqual({ detector: 2, embedder: 2 });
  });
});
