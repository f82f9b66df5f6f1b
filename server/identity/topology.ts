// Camera topology of a job: which cameras see overlapping fields of view. spec.cameras[].overlaps may be
// listed on one side only; overlap is symmetric, so a person may be in both cameras at the same time.
import type { CameraSpec } from '@mei/contracts';
import { IdentityInputError } from './types.ts';

export class CameraTopology {
  private readonly index = new Map<string, number>();
  private readonly overlap: Uint8Array;
  readonly names: readonly string[];

  constructor(cameras: ReadonlyArray<Pick<CameraSpec, 'name' | 'overlaps'>>) {
    if (!Array.isArray(cameras) || cameras.length === 0) throw new IdentityInputError('cameras', 'at least one camera is required');
    cameras.forEach((c, i) => {
      if (typeof c?.name !== 'string' || c.name.length === 0) throw new IdentityInputError(`cameras[${i}].name`, 'must be a non-empty string');
      if (this.index.has(c.name)) throw new IdentityInputError(`cameras[${i}].name`, `duplicate camera "${c.name}"`);
      this.index.set(c.name, i);
    });
    this.names = cameras.map((c) => c.name);
    const n = cameras.length;
    this.overlap = new Uint8Array(n * n);
    cameras.forEach((c, i) => {
      const overlaps: readonly string[] = c.overlaps ?? [];
      overlaps.forEach((other, k) => {
        const j = this.index.get(other);
        if (j === undefined) throw new IdentityInputError(`cameras[${i}].overlaps[${k}]`, `unknown camera "${other}"`);
        this.overlap[i * n + j] = 1;
        this.overlap[j * n + i] = 1;
      });
    });
  }

  /** Declares two cameras overlapping (e.g. they share pixels of one source). */
  addOverlap(a: string, b: string): void {
    const i = this.indexOf(a);
    const j = this.indexOf(b);
    const n = this.names.length;
    this.overlap[i * n + j] = 1;
    this.overlap[j * n + i] = 1;
  }

  has(camera: string): boolean {
    return this.index.has(camera);
  }

  /** Camera index, or an error naming `field` for an unknown camera. */
  indexOf(camera: string, field = 'camera'): number {
    const i = this.index.get(camera);
    if (i === undefined) throw new IdentityInputError(field, `unknown camera "${camera}" (job cameras: ${this.names.join(', ')})`);
    return i;
  }

  /** True when cameras i and j (indices, i !== j) may see the same person at the same time. */
  overlapsIdx(i: number, j: number): boolean {
    return this.overlap[i * this.names.length + j] === 1;
  }
}
