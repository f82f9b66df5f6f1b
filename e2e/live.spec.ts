// Live cross-camera tracking in the browser against the real server and a real edge agent: the PETS09 video
// cut into two overlapping virtual cameras (left x 0..432, right x 336..768), YOLOX-Nano (or NanoDet) + ReID
// running live. The page must draw both cameras with preview pixels (privacy.preview 'live'), and a person
// walking through the overlap must carry the same global identity in both cameras. Which person is which
// comes from the MOT ground truth: in a live looped file the agent's frame index counts source frames, so
// GT frame = frameIndex % 795 + 1.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from '@playwright/test';
import { demoJob } from '../server/demo-job.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const DATA = process.env.MEI_DATA_DIR ?? path.join(REPO, '..', 'shared', 'data');
const MODELS = process.env.MEI_MODEL_DIR ?? path.join(REPO, '..', 'shared', 'models');
const VIDEO_FRAMES = 795;
/** How long the test watches for a person crossing (the video loops every 79.5 s). */
const WATCH_MS = 75_000;
/** Both sightings of the crossing person must fall within this window. */
const CROSS_WINDOW_MS = 20_000;
/** The strip both cameras see (source pixels): x in [336, 432). */
const SHARED = { from: 336, to: 432 };

interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}
interface Sample {
  camera: string;
  frame: number;
  at: number;
  items: Array<Box & { gid: string }>;
}

function loadGroundTruth(): Map<number, Array<Box & { id: number }>> {
  const byFrame = new Map<number, Array<Box & { id: number }>>();
  for (const line of readFileSync(path.join(DATA, 'PETS09-S2L1/gt/gt.txt'), 'utf8').split('\n')) {
    const c = line.split(',').map(Number);
    if (c.length < 6 || !Number.isFinite(c[0])) continue;
    const list = byFrame.get(c[0]) ?? byFrame.set(c[0], []).get(c[0])!;
    list.push({ id: c[1], x: c[2], y: c[3], w: c[4], h: c[5] });
  }
  return byFrame;
}

function iou(a: Box, b: Box): number {
  const w = Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y);
  if (w <= 0 || h <= 0) return 0;
  return (w * h) / (a.w * a.h + b.w * b.h - w * h);
}

test('live view: two cameras with overlays, and a person keeps one global id from one camera into the other', async ({ page }) => {
  test.setTimeout(180_000);
  const name = `live-${Date.now().toString(36)}`;
  const spec = demoJob(MODELS).spec;
  spec.cameras = spec.cameras.map((c) => ({ ...c, fps: 10 })); // native rate: the frame index counts source frames
  const roiX = Object.fromEntries(spec.cameras.map((c) => [c.name, c.roi!.x]));

  const login = await page.request.post('/api/auth/login', { data: { username: process.env.MEI_E2E_USER ?? 'admin', password: process.env.MEI_E2E_PASSWORD } });
  expect(login.ok()).toBe(true);
  const created = await page.request.post('/api/jobs', { data: { metadata: { name, namespace: 'default' }, spec } });
  expect(created.status(), await created.text()).toBe(201);

  try {
    // From the job page to its live view.
    await page.goto(`/jobs/default/${name}`);
    await page.getByTestId('live-view-link').click({ timeout: 60_000 });
    await expect(page).toHaveURL(new RegExp(`/jobs/default/${name}/live$`), { timeout: 60_000 });
    await expect(page.getByTestId('camera-canvas-left')).toBeVisible({ timeout: 60_000 });
    await expect(page.getByTestId('camera-canvas-right')).toBeVisible();
    await expect(page.getByTestId('privacy-note')).toContainText('JPEG preview');

    // Record every label list the page draws.
    await page.evaluate(() => {
      const w = window as unknown as { __samples: unknown[] };
      w.__samples = [];
      for (const ul of document.querySelectorAll<HTMLUListElement>('ul[data-testid^="overlay-"]')) {
        const camera = ul.dataset.testid!.slice('overlay-'.length);
        new MutationObserver(() => {
          const items = [...ul.querySelectorAll('li')].map((li) => {
            const [gid, box] = (li.textContent ?? '').split('@');
            const [x, y, bw, bh] = box.split(',').map(Number);
            return { gid, x, y, w: bw, h: bh };
          });
          w.__samples.push({ camera, frame: Number(ul.dataset.frame), at: Date.now(), items });
        }).observe(ul, { childList: true, attributes: true });
      }
    });

    // Overlays on both cameras (the agent has to load its models first).
    await expect
      .poll(() => page.evaluate(() => ['left', 'right'].map((c) => document.querySelectorAll(`[data-testid="overlay-${c}"] li`).length > 0)), { timeout: 90_000 })
      .toEqual([true, true]);

    const gt = loadGroundTruth();
    const samples: Sample[] = [];
    /** gtId -> global id -> camera -> sightings there (time, and whether only that camera could see it). */
    const seen = new Map<number, Map<string, Map<string, Array<{ at: number; exclusive: boolean }>>>>();
    let boxes = 0;
    let matched = 0;
    let crossing: { gtId: number; gid: string } | undefined;
    const deadline = Date.now() + WATCH_MS;
    while (!crossing && Date.now() < deadline) {
      await page.waitForTimeout(1_000);
      const fresh = (await page.evaluate(() => {
        const w = window as unknown as { __samples: unknown[] };
        return w.__samples.splice(0);
      })) as Sample[];
      samples.push(...fresh);
      for (const s of fresh) {
        const truth = gt.get((s.frame % VIDEO_FRAMES) + 1) ?? [];
        for (const item of s.items) {
          boxes++;
          const box = { x: item.x + roiX[s.camera], y: item.y, w: item.w, h: item.h };
          let best: { id: number; v: number } | undefined;
          for (const g of truth) {
            const v = iou(box, g);
            if (v >= 0.5 && (!best || v > best.v)) best = { id: g.id, v };
          }
          if (!best) continue;
          matched++;
          if (!/^P\d+$/.test(item.gid)) continue; // no global identity yet
          const byGid = seen.get(best.id) ?? seen.set(best.id, new Map()).get(best.id)!;
          const byCam = byGid.get(item.gid) ?? byGid.set(item.gid, new Map()).get(item.gid)!;
          const cx = box.x + box.w / 2;
          (byCam.get(s.camera) ?? byCam.set(s.camera, []).get(s.camera)!).push({ at: s.at, exclusive: cx < SHARED.from || cx >= SHARED.to });
        }
      }
      for (const [gtId, byGid] of seen) {
        for (const [gid, byCam] of byGid) {
          const l = byCam.get('left') ?? [];
          const r = byCam.get('right') ?? [];
          // Passing from one camera into the other: one of the two sightings is outside the shared strip.
          if (l.some((a) => r.some((b) => (a.exclusive || b.exclusive) && Math.abs(a.at - b.at) <= CROSS_WINDOW_MS))) crossing = { gtId, gid };
        }
      }
    }
    const summary = { samples: samples.length, boxes, matched, people: [...seen.keys()].length };
    console.log(`[live e2e] ${JSON.stringify({ ...summary, crossing })}`);
    // The drawn boxes are the video's people (this also checks that frame indices follow the source).
    expect(matched / Math.max(1, boxes), JSON.stringify(summary)).toBeGreaterThan(0.5);
    expect(crossing, `no person kept one global id across the overlap within ${WATCH_MS / 1000} s: ${JSON.stringify(summary)}`).toBeDefined();
    const labels = samples.flatMap((s) => s.items.map((i) => i.gid)).filter((g) => /^P\d+$/.test(g));
    expect(new Set(labels).size).toBeGreaterThan(1); // not one label for everybody

    // Preview pixels arrived for both cameras (privacy.preview 'live').
    await expect.poll(() => page.evaluate(() => ['left', 'right'].map((c) => Boolean(window.__meiLive?.cameras.get(c)?.preview))), { timeout: 60_000 }).toEqual([true, true]);

    // Person crops beside the identities ('live' allows them too): at least one has loaded and names its identity.
    const thumbs = page.getByTestId('identity-list').locator('img[data-testid^="identity-thumb-"]');
    await expect
      .poll(() => thumbs.evaluateAll((imgs) => (imgs as HTMLImageElement[]).filter((i) => i.complete && i.naturalWidth > 0).length), { timeout: 60_000 })
      .toBeGreaterThan(0);
    await expect(thumbs.first()).toHaveAttribute('alt', /^Crop of P\d+ \(camera (left|right)\)$/);

    // Following an identity highlights it and says so.
    const first = page.getByTestId('identity-list').getByRole('button').first();
    await first.click();
    await expect(page.getByTestId('following')).toBeVisible();
    await expect(first).toHaveAttribute('aria-pressed', 'true');
  } finally {
    await page.request.delete(`/api/jobs/default/${name}`);
  }
});
