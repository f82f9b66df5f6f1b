// Test access to the read-only shared data (models, PETS09-S2L1) via MEI_MODEL_DIR / MEI_DATA_DIR, which
// `npm test` sets (defaulting to ../shared next to the repo, as CI lays it out).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Box } from '@mei/vision/types';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const MODEL_DIR = process.env.MEI_MODEL_DIR ?? path.resolve(repoRoot, '../shared/models');
export const DATA_DIR = process.env.MEI_DATA_DIR ?? path.resolve(repoRoot, '../shared/data');
export const VTEST = path.join(DATA_DIR, 'vtest.avi');
export const PETS_GT = path.join(DATA_DIR, 'PETS09-S2L1/gt/gt.txt');
export const modelEnv = (): Record<string, string | undefined> => ({ ...process.env, MEI_MODEL_DIR: MODEL_DIR, MEI_DATA_DIR: DATA_DIR });

export interface GtBox extends Box {
  id: number;
}

/** PETS09-S2L1 ground truth by MOT frame number (1-based; video frame n is GT frame n + 1). */
export function loadPetsGt(): Map<number, GtBox[]> {
  const byFrame = new Map<number, GtBox[]>();
  for (const line of readFileSync(PETS_GT, 'utf8').trim().split('\n')) {
    const [frame, id, x, y, w, h] = line.split(',').map(Number);
    if (!byFrame.has(frame)) byFrame.set(frame, []);
    byFrame.get(frame)!.push({ id, x, y, w, h });
  }
  return byFrame;
}
