// Two-scale detection (spec.models.detector.reducedInputScale, issue #16): one detector at the full input size
// and one at a fraction of it; the pipeline picks the pass per frame. Each side is scaled alike and rounded to
// the network stride, so both passes letterbox the camera about the same way.
import type { DetectorSpec } from '@mei/contracts/job';
import { ModelError } from '../models/resolve.ts';
import type { DetectPass, Detection, Detector, Frame } from '../types.ts';

/** The reduced pass's input size, or a ModelError naming reducedInputScale when it is not smaller. */
export function reducedInputSize(full: { width: number; height: number }, scale: number, stride: number, field: string): { width: number; height: number } {
  const side = (v: number) => Math.max(stride, Math.round((v * scale) / stride) * stride);
  const size = { width: side(full.width), height: side(full.height) };
  if (!(scale > 0 && scale < 1) || size.width * size.height >= full.width * full.height) {
    throw new ModelError(field, `must be in (0, 1) and give an input smaller than the detector's ${full.width}x${full.height} (sides rounded to multiples of ${stride}), got ${scale}`);
  }
  return size;
}

export class TwoScaleDetector implements Detector {
  readonly name: string;

  constructor(
    private readonly full: Detector,
    private readonly reduced: Detector,
  ) {
    this.name = `${full.name}+${reduced.name.split('@').pop()}`;
  }

  detect(frame: Frame, pass: DetectPass = 'full'): Promise<Detection[]> {
    return (pass === 'reduced' ? this.reduced : this.full).detect(frame);
  }

  async dispose(): Promise<void> {
    await Promise.all([this.full.dispose(), this.reduced.dispose()]);
  }
}

/** The spec of the reduced pass: the same model at the reduced size, without a second reduction. */
export function reducedSpec(spec: DetectorSpec, size: { width: number; height: number }): DetectorSpec {
  return { ...spec, inputWidth: size.width, inputHeight: size.height, reducedInputScale: 0 };
}
