// The shared job-validation table (test/fixtures/invalid-specs.ts) against the embedded backend on real
// PGlite: every invalid job is refused with a ValidationError naming exactly the expected field, nothing is
// stored, and the valid samples are stored with the CRD's defaults applied.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ValidationError } from '@mei/contracts';
import type { JobBackend } from '../../server/backends/types.ts';
import { openDatabase, type Database } from '../../server/store/db.ts';
import { createEmbeddedBackend } from '../../server/backends/embedded/job-backend.ts';
import { INVALID_SPECS, VALID_SPECS, baseJob, valueAtPath } from '../fixtures/invalid-specs.ts';

let tmp: string;
let db: Database;
let backend: JobBackend;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mei-validation-'));
  db = await openDatabase({ dataDir: path.join(tmp, 'db') });
  backend = createEmbeddedBackend(db);
}, 600_000);
afterAll(async () => {
  await backend?.close();
  await db?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('job validation table', () => {
  it('has at least 30 invalid cases, each with a distinct name', () => {
    expect(INVALID_SPECS.length).toBeGreaterThanOrEqual(30);
    expect(new Set(INVALID_SPECS.map((c) => c.name)).size).toBe(INVALID_SPECS.length);
  });

  it.each(INVALID_SPECS.map((c, i) => ({ ...c, i })))('rejects $name at $field', async ({ mutate, field, i }) => {
    const job = baseJob(`invalid-${i}`);
    mutate(job);
    const err = await backend.create(job as any).then(
      () => undefined,
      (e) => e,
    );
    expect(err).toBeInstanceOf(ValidationError);
    const errors = (err as ValidationError).errors;
    expect(errors.map((e) => e.field)).toEqual([field]);
    expect(errors[0].message.length).toBeGreaterThan(5);
    expect((err as Error).message).toContain(`${field}: `);
    if (typeof job.metadata.name === 'string' && job.metadata.name) expect(await backend.get('default', job.metadata.name)).toBeUndefined();
  });

  it.each(VALID_SPECS)('accepts $name', async ({ name, mutate, expect: expected }) => {
    const job = baseJob(`valid-${VALID_SPECS.findIndex((c) => c.name === name)}`);
    mutate(job);
    const sent = structuredClone(job);
    const created = await backend.create(job as any);
    for (const [p, v] of Object.entries(expected)) expect(valueAtPath(created, p), p).toEqual(v);
    // The stored object (read back through JSONB) is the one create returned.
    expect(await backend.get('default', job.metadata.name)).toEqual(created);
    expect(job).toEqual(sent); // the caller's object is not mutated by defaulting
  });

  it('reports every problem of an object at once', async () => {
    const job = baseJob('Bad_Name');
    job.spec.mode = 'sometimes';
    job.spec.cameras[0].fps = 0;
    job.spec.unknownField = true;
    const err = (await backend.create(job as any).catch((e) => e)) as ValidationError;
    expect(err.errors.map((e) => e.field).sort()).toEqual(['metadata.name', 'spec.cameras[0].fps', 'spec.mode', 'spec.unknownField']);
    expect(err.message).toMatch(/^MultiEdgeInference\.sedna\.io "Bad_Name" is invalid: /);
  });

  it('rejects a wrong apiVersion or kind, and non-objects, without crashing', async () => {
    const job = { ...baseJob('typed'), apiVersion: 'v1', kind: 'Pod' };
    const err = (await backend.create(job as any).catch((e) => e)) as ValidationError;
    expect(err.errors.map((e) => e.field).sort()).toEqual(['apiVersion', 'kind']);
    for (const bad of [null, 42, 'job', []]) await expect(backend.create(bad as any)).rejects.toBeInstanceOf(ValidationError);
    await expect(backend.create({ spec: baseJob().spec } as any)).rejects.toThrow(/metadata\.name: Required value/);
  });
});
