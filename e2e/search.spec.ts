// History and person search in the browser against the real server and a real edge agent: a history-mode
// job processes the PETS09 video cut into two virtual cameras (left x 0..432, right x 336..768) to the end,
// then a crop of one person (cut with ffmpeg from vtest.avi at a ground-truth box) is uploaded on /search.
// The results must include that person's tracks in both cameras — which stored track is which person comes
// from the MOT ground truth (history mode: timestamp = source frame / 10 fps, GT frame = frame + 1). Then the
// job's history page lists the tracks, and "Find this person" and the replay work.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test, type APIRequestContext, type Page } from '@playwright/test';
import type { MultiEdgeInference, TrackDetail, TrackList } from '@mei/contracts';
import { demoJob } from '../server/demo-job.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const DATA = process.env.MEI_DATA_DIR ?? path.join(REPO, '..', 'shared', 'data');
const MODELS = process.env.MEI_MODEL_DIR ?? path.join(REPO, '..', 'shared', 'models');
const NAV = { timeout: 60_000 };
/** The person searched for: PETS09-S2L1 GT id 1 walks across the whole scene (seen by both cameras). */
const PERSON = 1;

interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}
type GtRow = Box & { frame: number; id: number };

function groundTruth(): GtRow[] {
  return readFileSync(path.join(DATA, 'PETS09-S2L1/gt/gt.txt'), 'utf8')
    .split('\n')
    .map((l) => l.split(',').map(Number))
    .filter((c) => c.length >= 6 && Number.isFinite(c[0]))
    .map((c) => ({ frame: c[0], id: c[1], x: c[2], y: c[3], w: c[4], h: c[5] }));
}

function iou(a: Box, b: Box): number {
  const w = Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y);
  if (w <= 0 || h <= 0) return 0;
  return (w * h) / (a.w * a.h + b.w * b.h - w * h);
}

async function signIn(page: Page) {
  const password = process.env.MEI_E2E_PASSWORD;
  if (!password) throw new Error('MEI_E2E_PASSWORD is not set (global-setup sets it when it starts the server)');
  await page.goto('/login');
  await expect(page.getByRole('button', { name: 'Sign in' })).toBeEnabled(NAV);
  await page.getByLabel('Username').fill(process.env.MEI_E2E_USER ?? 'admin');
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/$/, NAV);
}

/** camera#localId -> the GT identity its stored trajectory overlaps (IoU >= 0.5) in most points. */
async function storedTrackIdentities(api: APIRequestContext, jobKey: string, roiX: Record<string, number>, gt: GtRow[]): Promise<Map<string, number | undefined>> {
  const byFrame = new Map<number, GtRow[]>();
  for (const r of gt) byFrame.set(r.frame, [...(byFrame.get(r.frame) ?? []), r]);
  const list = (await (await api.get(`/api/search/tracks?job=${encodeURIComponent(jobKey)}&limit=500`)).json()) as TrackList;
  const out = new Map<string, number | undefined>();
  for (const t of list.items) {
    const d = (await (await api.get(`/api/search/tracks/${t.id}`)).json()) as TrackDetail;
    const votes = new Map<number, number>();
    for (const [tMs, x, y, w, h] of d.points) {
      const frame = Math.round(tMs / 100) + 1;
      const box = { x: x + roiX[t.camera], y, w, h };
      const best = (byFrame.get(frame) ?? []).filter((g) => iou(box, g) >= 0.5).sort((a, b) => iou(box, b) - iou(box, a))[0];
      if (best) votes.set(best.id, (votes.get(best.id) ?? 0) + 1);
    }
    const [top] = [...votes.entries()].sort((a, b) => b[1] - a[1]);
    out.set(`${t.camera}#${t.localId}`, top && top[1] * 2 > d.points.length ? top[0] : undefined);
  }
  return out;
}

test('a history job becomes searchable: upload a person crop, find their tracks in both cameras, replay, find again from history', async ({ page }) => {
  test.setTimeout(200_000);
  const name = `search-${Date.now().toString(36)}`;
  const jobKey = `default/${name}`;
  const base = demoJob(MODELS).spec;
  // History mode at 5 fps (every other source frame): the whole 79.5 s file in well under two minutes.
  const spec = { ...base, mode: 'history' as const, cameras: base.cameras.map(({ loop: _loop, ...c }) => ({ ...c, fps: 5 })) };
  const roiX = Object.fromEntries(spec.cameras.map((c) => [c.name, c.roi!.x]));

  // The query: a crop of PERSON from the middle of their ground truth, with a little margin.
  const gt = groundTruth();
  const rows = gt.filter((r) => r.id === PERSON).sort((a, b) => a.frame - b.frame);
  const row = rows[Math.floor(rows.length / 2)];
  const pad = 0.1;
  const crop = { x: Math.max(0, Math.round(row.x - row.w * pad)), y: Math.max(0, Math.round(row.y - row.h * pad)), w: Math.round(row.w * (1 + 2 * pad)), h: Math.round(row.h * (1 + 2 * pad)) };
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mei-e2e-search-'));
  const cropFile = path.join(dir, `person-${PERSON}.png`);
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', path.join(DATA, 'vtest.avi'), '-vf', `select=eq(n\\,${row.frame - 1}),crop=${crop.w}:${crop.h}:${crop.x}:${crop.y}`, '-vframes', '1', cropFile]);

  try {
    await signIn(page);
    const created = await page.request.post('/api/jobs', { data: { metadata: { name, namespace: 'default' }, spec } });
    expect(created.status(), await created.text()).toBe(201);

    // The detail page shows the history progress (percent, fps, ETA) until the recording is done.
    await page.goto(`/jobs/default/${name}`);
    await expect(page.getByTestId('progress')).toBeVisible(NAV);
    await expect(page.getByTestId('progress-text')).toContainText(/fps · ETA|done/, NAV);
    await expect
      .poll(async () => ((await (await page.request.get(`/api/jobs/default/${name}`)).json()) as MultiEdgeInference).status?.phase, { timeout: 170_000, intervals: [2000] })
      .toBe('Succeeded');
    await expect(page.getByTestId('progress-text')).toContainText('done: its tracks are searchable', NAV);
    await page.waitForTimeout(1500); // the history writer flushes every second

    const identities = await storedTrackIdentities(page.request, jobKey, roiX, gt);
    const personTracks = [...identities].filter(([, id]) => id === PERSON).map(([k]) => k);
    expect(personTracks.some((k) => k.startsWith('left#')) && personTracks.some((k) => k.startsWith('right#')), `stored tracks of GT ${PERSON}: ${personTracks}`).toBe(true);

    // Upload the crop on /search: the person is found (detector on), with tracks in both cameras among the best results.
    await page.goto(`/search?job=${encodeURIComponent(jobKey)}`);
    await expect(page.getByTestId('search-job')).toHaveValue(jobKey, NAV);
    await page.getByTestId('search-image').setInputFiles(cropFile);
    await page.getByTestId('search-submit').click();
    const cards = page.getByTestId('identity-card');
    await expect(cards.first()).toBeVisible(NAV);
    await expect(page.getByTestId('search-stats')).toContainText('person detected in the image');
    const top = await cards.evaluateAll((els) => els.slice(0, 3).map((e) => e.querySelector('[data-testid="track-ids"]')?.textContent?.trim().split(/\s+/) ?? []));
    const found = top.flat().filter((k) => identities.get(k) === PERSON);
    expect(found.some((k) => k.startsWith('left#')) && found.some((k) => k.startsWith('right#')), `top cards ${JSON.stringify(top)}; GT ${PERSON} is ${personTracks}`).toBe(true);
    expect(top[0].some((k) => identities.get(k) === PERSON), `best card ${top[0]}`).toBe(true);
    // Where it was seen: a timeline row per camera; pixels were allowed (privacy.preview live): thumbnails.
    await expect(cards.first().getByTestId('timeline-camera').first()).toBeVisible();
    await expect(page.getByTestId('thumbnail').first()).toBeVisible();

    // The replay draws the person's boxes on a neutral background, one canvas per camera.
    await cards.first().getByRole('button', { name: 'Replay' }).click();
    await expect(cards.first().getByTestId('replay').locator('canvas').first()).toBeVisible(NAV);

    // The job's history lists its tracks; "Find this person" on one of PERSON's tracks finds them again.
    await page.goto(`/jobs/default/${name}/history`);
    await expect(page.getByTestId('tracks-table')).toBeVisible(NAV);
    // Tracks per hour: the recording is well under an hour, so one bar per camera, in hour 0.
    const bars = page.getByTestId('tracks-per-hour').getByTestId('hour-bar');
    await expect(bars).toHaveCount(2, NAV);
    await expect(bars.first().locator('title')).toHaveText(/^(left|right), 0h: [1-9]\d* tracks$/);
    const list = (await (await page.request.get(`/api/search/tracks?job=${encodeURIComponent(jobKey)}&limit=500`)).json()) as TrackList;
    const start = list.items.find((t) => personTracks.includes(`${t.camera}#${t.localId}`))!;
    await page.getByTestId(`track-row-${start.id}`).getByTestId('find-person').click();
    await expect(page).toHaveURL(new RegExp(`/search\\?track=${start.id}$`), NAV);
    await expect(page.getByTestId('search-stats')).toContainText(`like track ${start.id}`, NAV);
    const again = await page.getByTestId('identity-card').first().getByTestId('track-ids').textContent();
    expect(again).toContain(`${start.camera}#${start.localId}`);
  } finally {
    await page.request.delete(`/api/jobs/default/${name}`).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
});
