import type { CameraReport } from '@mei/contracts';
import type { CameraRunner, CameraRunnerContext } from '../../src/agent/camera-runner.ts';

/** A camera that emits only what its test tells it to through `ctx` (mock: no video); always Streaming. */
export class ScriptedRunner implements CameraRunner {
  readonly camera: string;
  constructor(readonly ctx: CameraRunnerContext) {
    this.camera = ctx.camera.name;
  }
  async start() {}
  async stop() {}
  report(): CameraReport {
    return { name: this.camera, state: 'Streaming' };
  }
}
