// The dashboard's create-job form mapping, checked with the real CRD schema and the contracts' validator
// (the same pair the browser runs before it submits).
import { describe, expect, it } from 'vitest';
import { createValidator } from '@mei/contracts';
import { loadJobSchema } from '../../contracts/src/crd.ts';
import { defaultJobForm, errorsByField, fieldDomId, newCamera, numberOrText, renderedFieldPaths, toJobInput, validateJobInput, type JobForm } from '../../app/lib/jobForm.ts';
import { friendlyMessage } from '../../app/lib/fieldMessages.ts';
import { numberBounds, schemaAt } from '../../app/lib/schemaInfo.ts';

const schema = loadJobSchema();
const validator = createValidator(schema);
const named = (patch: Partial<JobForm> = {}): JobForm => ({ ...defaultJobForm(), name: 'lobby', ...patch });

describe('create-job form', () => {
  it('prefills a valid job: one camera on the sample video at edge-local, YOLOX detector', () => {
    const input = toJobInput(named());
    expect(validateJobInput(validator, input)).toEqual([]);
    expect(input.metadata).toEqual({ name: 'lobby', namespace: 'default' });
    expect(input.spec.cameras).toEqual([{ name: 'cam-1', node: 'edge-local', source: '${MEI_DATA_DIR}/vtest.avi', fps: 10, loop: true }]);
    expect(input.spec.models.detector).toMatchObject({ decoder: 'yolox', name: 'yolox-nano', scoreThreshold: 0.3 });
  });

  it('does not send schema defaults it did not set (validation works on a copy)', () => {
    const input = toJobInput(named({ tracksDays: '' }));
    validateJobInput(validator, input);
    expect(input.spec.retention).toEqual({});
    expect((input.spec.models.detector as any).nmsThreshold).toBeUndefined();
  });

  it('reports fps 0 and a camera name with capitals at their Kubernetes field paths', () => {
    const f = named();
    f.cameras = [{ ...f.cameras[0], name: 'Cam-A', fps: '0' }];
    const errs = errorsByField(validateJobInput(validator, toJobInput(f)));
    expect(errs.get('spec.cameras[0].fps')?.message).toContain('should be greater than');
    expect(errs.get('spec.cameras[0].name')?.reason).toBe('FieldValueInvalid');
    expect(friendlyMessage(errs.get('spec.cameras[0].fps')!)).toMatch(/^Should be greater than/);
    expect(friendlyMessage(errs.get('spec.cameras[0].name')!)).toMatch(/^Use lowercase letters/);
  });

  it('checks the job name and namespace like the API server (RFC 1123 labels)', () => {
    const errs = validateJobInput(validator, toJobInput(named({ name: 'Bad_Name', namespace: '' })));
    expect(errs.map((e) => e.field).sort()).toEqual(['metadata.name', 'metadata.namespace']);
  });

  it('maps ROI, a second camera and non-numeric text so the validator names each field', () => {
    const f = named();
    const second = newCamera(1, 'edge-b');
    f.cameras = [f.cameras[0], { ...second, name: 'cam-1', fps: 'abc', roiEnabled: true, roi: { x: '0', y: '0', width: '8', height: '' } }];
    const input = toJobInput(f);
    expect(input.spec.cameras[1].roi).toEqual({ x: 0, y: 0, width: 8 });
    const errs = errorsByField(validateJobInput(validator, input));
    expect(errs.get('spec.cameras[1].fps')?.reason).toBe('FieldValueTypeInvalid');
    expect(errs.get('spec.cameras[1].roi.width')?.reason).toBe('FieldValueInvalid');
    expect(errs.get('spec.cameras[1].roi.height')?.reason).toBe('FieldValueRequired');
    expect(errs.get('spec.cameras[1]')?.reason).toBe('FieldValueDuplicate');
    // Every one of these has a place in the form (none falls through to the summary only).
    const rendered = renderedFieldPaths(f);
    expect([...errs.keys()].filter((k) => !rendered.has(k))).toEqual([]);
  });

  it('leaves reid out when not set and sends only kind for histograms', () => {
    expect(toJobInput(named({ reid: { kind: 'none', name: 'x', path: 'y' } })).spec.models.reid).toBeUndefined();
    expect(toJobInput(named({ reid: { kind: 'histogram', name: 'x', path: 'y' } })).spec.models.reid).toEqual({ kind: 'histogram' });
  });

  it('turns typed text into numbers only when it is one', () => {
    expect([numberOrText(''), numberOrText(' 2.5 '), numberOrText('1e3'), numberOrText('x')]).toEqual([undefined, 2.5, 1000, 'x']);
  });

  it('finds schema bounds and descriptions by field path', () => {
    const fps = schemaAt(schema, 'spec.cameras[3].fps')!;
    expect(numberBounds(fps)).toEqual({ min: fps.minimum, max: fps.maximum, step: 'any' });
    expect(numberBounds(schemaAt(schema, 'spec.cameras[0].roi.width'))).toEqual({ min: 16, max: 16384, step: 1 });
    expect(schemaAt(schema, 'spec.models.detector.decoder')?.description).toMatch(/raw output/);
    expect(schemaAt(schema, 'spec.nope.x')).toBeUndefined();
    expect(fieldDomId('spec.cameras[0].fps')).toBe('f-spec-cameras-0-fps');
  });
});
