// Two-scale detection (spec.models.detector.reducedInputWidth, issue #16): one detector at the full input size
// and one at a reduced width; the pipeline picks the pass per frame. The reduced input keeps the full one's
// proportions, rounded to the network stride, so both letterbox the camera the same way.
import type { DetectorSpec } from '@mei/contracts/job';
import { ModelError } from '../models/resolve.ts';
import type { DetectPass, Detection, Detector, Frame } from '../types.ts';

/** The reduced pass's input size, or a ModelError naming reducedInputWidth when it cannot be smaller. */
export function reducedInputSize(full: { width: number; height: number }, reducedWidth: number, stride: number, field: string): { width: number; height: number } {
  const width = Math.round(reducedWidth / stride) * stride;
  if (width < stride || width >= full.width) {
    throw new ModelError(field, `must be a width between ${stride} and the detector's input width ${full.width} (a multiple of ${stride}), got ${reducedWidth}`);
  }
  const height = Math.max(stride, Math.round((full.height * width) / full.width / stride) * stride);
  return { width, height };
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
  return { ...spec, inputWidth: size.width, inputHeight: size.height, reducedInputWidth: 0 };
}
