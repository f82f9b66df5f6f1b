// The history writer alone (server/history/writer.ts) on an embedded PGlite store, with bench:ingest's traffic:
// --cameras cameras x --people people, batches of 10 frames (1 s of track time), a 512-d embedding per person
// every other batch (each the agent's running mean, drifting a little), --batches batches per camera between
// flushes. Reports CPU ms per 1,000 observations of this process (the database runs in it) and the median flush.
//   npm run bench:history-writer -- [--json] [--rounds 20] [--cameras 20] [--people 10] [--batches 20]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { MultiEdgeInference } from '@mei/contracts';
import { numberFlag, runBench } from './bench-args.ts';
import { openDatabase } from '../server/store/db.ts';
import { silentLogger } from '../server/log.ts';
import { HistoryWriter } from '../server/history/writer.ts';

const USAGE = 'usage: npm run bench:history-writer -- [--json] [--rounds 20] [--cameras 20] [--people 10] [--batches 20]';
const DIM = 512;
const UID = '00000000-0000-4000-8000-000000000001';

runBench(async () => {
  const { values } = parseArgs({ options: { json: { type: 'boolean' }, rounds: { type: 'string' }, cameras: { type: 'string' }, people: { type: 'string' }, batches: { type: 'string' } } });
  const rounds = numberFlag(values.rounds, '--rounds', 20, 1, 10_000, true);
  const cameras = numberFlag(values.cameras, '--cameras', 20, 1, 1000, true);
  const people = numberFlag(values.people, '--people', 10, 1, 500, true);
  const batches = numberFlag(values.batches, '--batches', 20, 1, 10_000, true);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mei-bench-writer-'));
  const db = await openDatabase({ dataDir: path.join(dir, 'db') });
  try {
    const job = { metadata: { uid: UID, name: 'bench', namespace: 'default' }, spec: { cameras: [], models: { detector: { decoder: 'yolox' } } } } as unknown as MultiEdgeInference;
    const writer = new HistoryWriter({ sql: db.sql, jobs: { get: () => job }, log: silentLogger, flushMs: 3_600_000 });
    const look = (person: number, k: number) => Array.from({ length: DIM }, (_, i) => Math.sin(person * 12.9898 + i * 78.233) + 0.02 * Math.sin(k * 0.7 + i));
    const flushes: number[] = [];
    let observations = 0;
    let generateMs = 0;
    const cpu = () => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1000;
    };
    const cpu0 = cpu();
    for (let r = 0; r < rounds; r++) {
      for (let b = 0; b < batches; b++) {
        for (let c = 0; c < cameras; c++) {
          const g0 = cpu();
          const seq = r * batches + b;
          const frames = Array.from({ length: 10 }, (_, k) => {
            const f = seq * 10 + k;
            return { frameIndex: f, timestampMs: f * 100, width: 1280, height: 720, tracks: Array.from({ length: people }, (_, p) => ({ localId: p + 1, globalId: `g${c}-${p}`, x: (p * 97 + f * 3) % 1200, y: 100 + p * 40, w: 40, h: 100, score: 0.9, state: 'confirmed' as const })) };
          });
          const embeddings = seq % 2 === 0 ? Array.from({ length: people }, (_, p) => ({ id: p + 1, vector: look(p + (c % 3) * 100, seq) })) : undefined;
          generateMs += cpu() - g0;
          observations += frames.length * people;
          writer.observations({ jobKey: 'default/bench', jobUid: UID, camera: `cam-${c}`, session: 'bench', frames, ...(embeddings ? { embeddings } : {}) });
        }
      }
      const f0 = performance.now();
      await writer.flush();
      flushes.push(performance.now() - f0);
    }
    const cpuMs = cpu() - cpu0 - generateMs;
    const s = writer.stats();
    await writer.close();
    flushes.sort((a, b) => a - b);
    const result = {
      observations,
      cpuMs: Math.round(cpuMs),
      cpuMsPer1000Observations: Math.round((cpuMs / observations) * 1000 * 100) / 100,
      flushMsMedian: Math.round(flushes[flushes.length >> 1] * 10) / 10,
      flushes: s.flushes,
      embeddingsInserted: s.embeddingsInserted,
      embeddingsUpdated: s.embeddingsUpdated,
      pointsWritten: s.pointsWritten,
      loadAvg1: os.loadavg()[0],
    };
    if (values.json) console.log(JSON.stringify(result, null, 2));
    else console.log(`history writer: ${result.cpuMsPer1000Observations} CPU ms / 1,000 obs (${observations} obs, ${result.flushes} flushes, median ${result.flushMsMedian} ms; ${result.embeddingsUpdated} representatives rewritten), load ${result.loadAvg1}`);
  } finally {
    await db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}, USAGE);
