// One inference budget per node (spec.workers[].inferenceSlots): at most `slots` camera frames are in the
// networks at once, whatever the number of cameras. When cameras wait, the next slot goes to the camera
// served least over the last WINDOW_MS, so an overloaded node gives every camera the same frame rate (each
// camera's live source drops what it cannot take) instead of letting the busiest scenes or the luckiest
// threads take the cores. Without a budget each camera runs its networks as soon as it has a frame.
// A floor (spec.workers[].floorFps) comes first: a camera running below its floor gets the next slot before
// any camera above its own, so a node with too many cameras still gives each of them the floor if it can.
import type { Box, DetectPass, Detection, Detector, Embedder, Frame } from '@mei/vision/types';
import type { TimedDetections } from '../pipeline/workerDetector.ts';

const WINDOW_MS = 5_000;

export interface CameraFloor {
  floorFps: number;
  /** The camera's frame rate now (its runner's 5 s average). */
  fps(): number;
}

export class InferenceBudget {
  private busy = 0;
  private readonly waiting: Array<{ camera: string; since: number; grant: () => void }> = [];
  private readonly grants = new Map<string, number[]>();
  private readonly floors = new Map<string, CameraFloor>();

  constructor(readonly slots: number) {
    if (!(Number.isInteger(slots) && slots >= 1)) throw new RangeError(`inference slots must be a whole number >= 1, got ${slots}`);
  }

  /** Waits for a slot for `camera`; call the returned function when its inference is done. */
  acquire(camera: string): Promise<() => void> {
    return new Promise((resolve) => {
      const grant = () => {
        this.busy++;
        this.served(camera).push(Date.now());
        let released = false;
        resolve(() => {
          if (released) return;
          released = true;
          this.busy--;
          this.next();
        });
      };
      this.waiting.push({ camera, since: Date.now(), grant });
      this.next();
    });
  }

  /** Registers (or with undefined removes) a camera's floor; cameras below theirs are served first. */
  setFloor(camera: string, floor: CameraFloor | undefined): void {
    if (floor && floor.floorFps > 0) this.floors.set(camera, floor);
    else this.floors.delete(camera);
  }

  /** Whether `camera` runs below its floor now. */
  belowFloor(camera: string): boolean {
    const f = this.floors.get(camera);
    return f !== undefined && f.fps() < f.floorFps;
  }

  /** Grants in the last window, per camera (what the scheduler balances). */
  recentGrants(camera: string): number {
    return this.served(camera).length;
  }

  private served(camera: string): number[] {
    const now = Date.now();
    let list = this.grants.get(camera);
    if (!list) this.grants.set(camera, (list = []));
    while (list.length && now - list[0] > WINDOW_MS) list.shift();
    return list;
  }

  private next(): void {
    while (this.busy < this.slots && this.waiting.length) {
      // A camera below its floor first; then the camera served least recently; equal counts first come, first served.
      let best = 0;
      const below = this.waiting.map((w) => this.belowFloor(w.camera));
      for (let i = 1; i < this.waiting.length; i++) {
        const a = this.waiting[i];
        const b = this.waiting[best];
        if (below[i] !== below[best]) {
          if (below[i]) best = i;
          continue;
        }
        const [na, nb] = [this.served(a.camera).length, this.served(b.camera).length];
        if (na < nb || (na === nb && a.since < b.since)) best = i;
      }
      this.waiting.splice(best, 1)[0].grant();
    }
  }
}

/** `target` with `methods` replaced; everything else (name, dim, instanceof) is the target's own. */
function overriding<T extends object>(target: T, methods: Partial<T>): T {
  return new Proxy(target, {
    get(t, key) {
      if (Object.prototype.hasOwnProperty.call(methods, key)) return (methods as Record<PropertyKey, unknown>)[key];
      const v = Reflect.get(t, key, t);
      return typeof v === 'function' ? v.bind(t) : v;
    },
  });
}

async function inSlot<T>(budget: InferenceBudget, camera: string, run: () => Promise<T>): Promise<T> {
  const release = await budget.acquire(camera);
  try {
    return await run();
  } finally {
    release();
  }
}

/** The detector, each detection inside a slot of `budget` (a worker detector still computes in its thread). */
export function budgetedDetector(detector: Detector, budget: InferenceBudget, camera: string): Detector {
  const d = detector as Detector & { detectTimed?(f: Frame, p?: DetectPass): Promise<TimedDetections> };
  return overriding(d, {
    detect: (f: Frame, p?: DetectPass): Promise<Detection[]> => inSlot(budget, camera, () => d.detect(f, p)),
    ...(d.detectTimed ? { detectTimed: (f: Frame, p?: DetectPass) => inSlot(budget, camera, () => d.detectTimed!(f, p)) } : {}),
  });
}

/** The embedder, each batch of crops inside a slot of `budget`. */
export function budgetedEmbedder(embedder: Embedder, budget: InferenceBudget, camera: string): Embedder {
  return overriding(embedder, {
    embed: (frame: Frame, boxes: Box[]) => (boxes.length ? inSlot(budget, camera, () => embedder.embed(frame, boxes)) : embedder.embed(frame, boxes)),
  });
}
