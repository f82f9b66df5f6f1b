import { describe, expect, it } from 'vitest';
import type { Detection, TrackOutput } from '@mei/vision/types';
import { l2NormalizeInPlace } from '@mei/vision/vector';
import { ByteTracker, createTracker } from '../src/tracker/index.ts';

const FRAME_MS = 100; // 10 fps, like PETS09-S2L1

function rng(seed: number) {
  let s = seed;
  return () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648) - 0.5;
}

/** A person's appearance: a fixed random direction plus per-frame noise (like ReID jitter). */
function appearance(seed: number, dim = 64) {
  const r = rng(seed);
  const base = l2NormalizeInPlace(Float32Array.from({ length: dim }, r));
  const noise = rng(seed * 31 + 7);
  return () => l2NormalizeInPlace(base.map((v) => v + 0.15 * noise()));
}

interface Person {
  box: (t: number) => { x: number; y: number; w: number; h: number } | undefined;
  score?: (t: number) => number;
  look: () => Float32Array;
}

/** Runs a scripted scene; returns, per frame, the confirmed tracks. */
function runScene(
  tracker: { update: ByteTracker['update'] },
  people: Person[],
  frames: number,
  withAppearance = true,
  frame?: { width: number; height: number },
) {
  const out: TrackOutput[][] = [];
  for (let t = 0; t < frames; t++) {
    const dets: Detection[] = [];
    const embs: Float32Array[] = [];
    for (const p of people) {
      const b = p.box(t);
      if (!b) continue;
      dets.push({ ...b, score: p.score?.(t) ?? 0.9, classId: 0 });
      embs.push(p.look());
    }
    out.push(tracker.update(dets, withAppearance ? embs : undefined, t * FRAME_MS, frame).filter((tr) => tr.state === 'confirmed'));
  }
  return out;
}

/** Id of the confirmed track closest to box b in frame t. */
function idAt(frames: TrackOutput[][], t: number, b: { x: number; y: number }): number | undefined {
  let best: TrackOutput | undefined;
  for (const tr of frames[t]) if (!best || Math.hypot(tr.x - b.x, tr.y - b.y) < Math.hypot(best.x - b.x, best.y - b.y)) best = tr;
  return best && Math.hypot(best.x - b.x, best.y - b.y) < 20 ? best.id : undefined;
}

describe('ByteTracker lifecycle', () => {
  it('confirms a track after minHits frames and never confirms a one-frame false positive', () => {
    const tracker = new ByteTracker({ minHits: 3 });
    const walker: Person = { box: (t) => ({ x: 100 + 4 * t, y: 100, w: 30, h: 80 }), look: appearance(1) };
    const ghost: Person = { box: (t) => (t === 2 ? { x: 400, y: 300, w: 30, h: 80 } : undefined), look: appearance(2) };
    const frames = runScene(tracker, [walker, ghost], 10);
    expect(frames[0]).toHaveLength(0);
    expect(frames[1]).toHaveLength(0);
    expect(frames[2].map((t) => t.id)).toEqual([1]);
    for (let t = 2; t < 10; t++) expect(frames[t].map((tr) => tr.id)).toEqual([1]);
  });

  it('starts tracks only from confident detections, but continues them on weaker ones', () => {
    const tracker = new ByteTracker({ highThreshold: 0.5, newTrackThreshold: 0.7 });
    const unsure: Person = { box: (t) => ({ x: 300, y: 100 + 2 * t, w: 30, h: 80 }), score: () => 0.6, look: appearance(6) };
    const walker: Person = { box: (t) => ({ x: 100 + 4 * t, y: 300, w: 30, h: 80 }), score: (t) => (t < 3 ? 0.9 : 0.55), look: appearance(7) };
    const frames = runScene(tracker, [unsure, walker], 15);
    for (let t = 3; t < 15; t++) expect(frames[t].map((tr) => Math.round(tr.y))).toEqual([300]);
  });

  it('keeps a track alive on low-score detections (second stage) during partial occlusion', () => {
    const tracker = new ByteTracker({ highThreshold: 0.5, lowThreshold: 0.1 });
    const p: Person = {
      box: (t) => ({ x: 100 + 5 * t, y: 100, w: 30, h: 80 }),
      score: (t) => (t >= 10 && t < 16 ? 0.25 : 0.9),
      look: appearance(3),
    };
    const frames = runScene(tracker, [p], 25);
    for (let t = 3; t < 25; t++) expect(frames[t].map((tr) => tr.id)).toEqual([1]);
  });

  it('removes a track unseen for longer than maxLostSeconds (a returning person gets a new id)', () => {
    const tracker = new ByteTracker({ maxLostSeconds: 0.25 });
    const p: Person = { box: (t) => (t < 10 || t >= 16 ? { x: 100 + 3 * t, y: 100, w: 30, h: 80 } : undefined), look: appearance(4) };
    const frames = runScene(tracker, [p], 25);
    expect(idAt(frames, 9, { x: 127, y: 100 })).toBe(1);
    expect(frames[14]).toHaveLength(0);
    expect(idAt(frames, 24, { x: 172, y: 100 })).toBe(2);
  });
});

describe('ByteTracker.appearanceNeeded', () => {
  it('asks for embeddings at the start, near other people and every refreshSeconds, not for someone walking alone', () => {
    const tracker = new ByteTracker({ minHits: 1, refreshSeconds: (5 * FRAME_MS) / 1000 });
    const look = appearance(8);
    const det = (t: number, x0 = 100): Detection => ({ x: x0 + 4 * t, y: 100, w: 30, h: 80, score: 0.9, classId: 0 });
    const asked: boolean[] = [];
    for (let t = 0; t < 12; t++) {
      const dets = [det(t)];
      const need = tracker.appearanceNeeded(dets, t * FRAME_MS);
      asked.push(need[0]);
      tracker.update(dets, need.map((n) => (n ? look() : undefined)), t * FRAME_MS);
    }
    // Frame 0: no track yet. Then one fresh embedding every 5 frames' time.
    expect(asked).toEqual([true, false, false, false, false, true, false, false, false, false, true, false]);
    // A second person right next to the first: both ambiguous.
    expect(tracker.appearanceNeeded([det(12), det(12, 110)], 12 * FRAME_MS)).toEqual([true, true]);
    // A low-score detection is never embedded.
    expect(tracker.appearanceNeeded([{ ...det(12), score: 0.3 }], 12 * FRAME_MS)).toEqual([false]);
  });

  it('embeds a box near no track only when it could start a track or re-find a lost one', () => {
    const tracker = new ByteTracker({ minHits: 1 });
    const look = appearance(9);
    const box = (x: number, score: number): Detection => ({ x, y: 100, w: 30, h: 80, score, classId: 0 });
    // Between the high threshold (0.5) and the new-track threshold (0.7): can neither start nor continue a track.
    const weak = 0.6;
    expect(tracker.appearanceNeeded([box(400, weak), box(400, 0.9)], 0)).toEqual([false, true]);
    tracker.update([box(100, 0.9)], [look()], 0);
    tracker.update([box(100, 0.9)], [look()], FRAME_MS);
    // The track is live and far away: the weak box stays unembedded.
    expect(tracker.appearanceNeeded([box(100, 0.9), box(400, weak)], 2 * FRAME_MS)).toEqual([false, false]);
    // The person is hidden for a frame (lost, not at the edge): a weak box within reach may be them, one far off not.
    tracker.update([], [], 2 * FRAME_MS);
    expect(tracker.appearanceNeeded([box(150, weak), box(400, weak)], 3 * FRAME_MS)).toEqual([true, false]);
  });
});

describe('ByteTracker identities', () => {
  it('keeps the id through a 5-frame full occlusion (motion carries the lost track)', () => {
    const tracker = new ByteTracker({ maxLostSeconds: 3 });
    const p: Person = { box: (t) => (t < 10 || t > 14 ? { x: 100 + 6 * t, y: 200 + t, w: 32, h: 85 } : undefined), look: appearance(5) };
    const frames = runScene(tracker, [p], 30);
    expect(idAt(frames, 9, { x: 154, y: 209 })).toBe(1);
    for (let t = 10; t <= 14; t++) expect(frames[t]).toHaveLength(0);
    for (let t = 15; t < 30; t++) expect(idAt(frames, t, { x: 100 + 6 * t, y: 200 + t })).toBe(1);
  });

  describe('exits at the frame edge', () => {
    const FRAME = { width: 640, height: 480 };
    // A walks out at the right edge (last seen touching it at t=14); 1 s later B, who looks the same to the
    // ReID network, walks in at that edge. Without the frame size the lost A is re-found by appearance.
    const scene = (): Person[] => {
      const look = appearance(21);
      return [
        { box: (t) => (t <= 14 ? { x: 500 + 8 * t, y: 200, w: 30, h: 80 } : undefined), look },
        { box: (t) => (t >= 25 ? { x: 606 - 6 * (t - 25), y: 202, w: 30, h: 80 } : undefined), look },
      ];
    };

    it('a person who left the frame does not hand their id to a look-alike entering there later', () => {
      const frames = runScene(new ByteTracker(), scene(), 40, true, FRAME);
      const a = idAt(frames, 14, { x: 612, y: 200 });
      const b = idAt(frames, 39, { x: 606 - 6 * 14, y: 202 });
      expect(a).toBeDefined();
      expect(b).toBeDefined();
      expect(b).not.toBe(a);
    });

    it('(control) without the frame size the same scene re-finds the lost track by appearance', () => {
      const frames = runScene(new ByteTracker(), scene(), 40, true);
      expect(idAt(frames, 39, { x: 606 - 6 * 14, y: 202 })).toBe(idAt(frames, 14, { x: 612, y: 200 }));
    });

    it('a person hidden for 1 s inside the frame is still re-found by appearance', () => {
      const look = appearance(22);
      const p: Person = { box: (t) => (t <= 14 || t >= 25 ? { x: 200 + 4 * t, y: 200, w: 30, h: 80 } : undefined), look };
      const frames = runScene(new ByteTracker(), [p], 40, true, FRAME);
      expect(idAt(frames, 39, { x: 200 + 4 * 39, y: 200 })).toBe(idAt(frames, 14, { x: 256, y: 200 }));
    });
  });

  // Two people walk towards each other; while they overlap only the front one is detected.
  const crossing = (bounce: boolean): Person[] => {
    const meet = 20;
    const pos = (start: number, v: number) => (t: number) => {
      const x = bounce && t > meet ? start + v * meet - v * (t - meet) : start + v * t;
      return { x, y: 150, w: 30, h: 80 };
    };
    const a = pos(100, 8);
    const b = pos(420, -8);
    return [
      { box: a, look: appearance(11) },
      // B is hidden behind A while their boxes overlap.
      { box: (t) => (Math.abs(a(t).x - b(t).x) < 20 ? undefined : b(t)), look: appearance(12) },
    ];
  };

  it('two people crossing keep their identities', () => {
    const people = crossing(false);
    const frames = runScene(new ByteTracker(), people, 40);
    const a0 = idAt(frames, 5, people[0].box(5)!);
    const b0 = idAt(frames, 5, people[1].box(5)!);
    expect(a0).toBeDefined();
    expect(b0).toBeDefined();
    expect(a0).not.toBe(b0);
    expect(idAt(frames, 39, people[0].box(39)!)).toBe(a0);
    expect(idAt(frames, 39, people[1].box(39)!)).toBe(b0);
  });

  it('appearance keeps identities when people meet and turn back, where motion alone swaps them', () => {
    const people = crossing(true);
    const check = (withAppearance: boolean) => {
      const frames = runScene(new ByteTracker({ appearanceWeight: withAppearance ? 0.5 : 0 }), people, 40, withAppearance);
      const a0 = idAt(frames, 5, people[0].box(5)!);
      const b0 = idAt(frames, 5, people[1].box(5)!);
      return { a0, b0, a1: idAt(frames, 39, people[0].box(39)!), b1: idAt(frames, 39, people[1].box(39)!) };
    };
    const app = check(true);
    expect(app.a1).toBe(app.a0);
    expect(app.b1).toBe(app.b0);
    const motion = check(false);
    expect(motion.a1).not.toBe(motion.a0);
  });

  it('single-object mode reports only the track that looks like the target', () => {
    const lookB = appearance(22);
    const target = Array.from(lookB());
    const tracker = createTracker({ type: 'single', target: { embedding: target } });
    const people: Person[] = [
      { box: (t) => ({ x: 50 + 5 * t, y: 100, w: 30, h: 80 }), look: appearance(21) },
      { box: (t) => ({ x: 400 - 5 * t, y: 300, w: 30, h: 80 }), look: lookB },
      { box: (t) => ({ x: 600, y: 50 + 4 * t, w: 30, h: 80 }), look: appearance(23) },
    ];
    const frames = runScene(tracker, people, 15);
    for (let t = 3; t < 15; t++) {
      expect(frames[t]).toHaveLength(1);
      expect(frames[t][0].y).toBeCloseTo(300, -1);
    }
  });

  it('single-object mode without a target embedding is a clear error', () => {
    expect(() => createTracker({ type: 'single', target: { identity: 'g-1' } })).toThrow(/spec\.tracking\.target\.embedding/);
  });
});

describe('ByteTracker.coast (detection cadence)', () => {
  it('carries a walking person on the Kalman prediction between detected frames and keeps the id', () => {
    const tracker = new ByteTracker();
    const look = appearance(3);
    const box = (t: number) => ({ x: 100 + 8 * t, y: 200, w: 40, h: 100 });
    let id: number | undefined;
    for (let t = 0; t < 30; t++) {
      if (t < 6 || t % 3 === 0) {
        const out = tracker.update([{ ...box(t), score: 0.9, classId: 0 }], [look()], t * FRAME_MS).filter((tr) => tr.state === 'confirmed');
        if (t >= 6) {
          expect(out).toHaveLength(1);
          id ??= out[0].id;
          expect(out[0].id).toBe(id);
        }
      } else {
        const out = tracker.coast().filter((tr) => tr.state === 'confirmed');
        if (t < 6) continue;
        // The predicted box follows the person (constant velocity learnt from the detected frames).
        expect(out).toHaveLength(1);
        expect(Math.abs(out[0].x - box(t).x)).toBeLessThan(10);
      }
    }
    expect(id).toBeDefined();
  });
});
