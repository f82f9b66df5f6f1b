'use client';
import { useMemo, useState, type FormEvent } from 'react';
import Link from 'next/link';
import { useRouter } from 'next/navigation';
import type { FieldError } from '@mei/contracts';
import { Field } from '@/app/components/Field';
import { jobHref } from '@/app/components/JobsTable';
import { ApiRequestError } from '@/app/lib/http';
import { useCreateJob, useJobValidator, useMe } from '@/app/lib/hooks';
import { defaultJobForm, errorsByField, fieldDomId, newCamera, renderedFieldPaths, toJobInput, validateJobInput, type CameraForm, type JobForm } from '@/app/lib/jobForm';
import { numberBounds, schemaAt } from '@/app/lib/schemaInfo';
import { CameraRow } from './CameraRow';

export function CreateJobForm() {
  const router = useRouter();
  const me = useMe();
  const { validator, schema, error: schemaError } = useJobValidator();
  // No validator yet also means not hydrated yet (the schema is fetched in the browser): no submit then.
  const schemaLoading = !validator && schemaError == null;
  const create = useCreateJob();
  const [form, setForm] = useState<JobForm>(() => defaultJobForm());
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [banner, setBanner] = useState<string>();
  // Field errors from a 422/409 answer rather than from the browser-side check.
  const [rejectedByServer, setRejectedByServer] = useState(false);
  // After the first submit, re-check on every edit so fixed fields clear at once.
  const [attempted, setAttempted] = useState(false);

  const allowedNamespaces = me.data && !me.data.namespaces.includes('*') ? me.data.namespaces : undefined;
  const errorMap = useMemo(() => errorsByField(errors), [errors]);
  const unplaced = errors.filter((e) => !renderedFieldPaths(form).has(e.field));
  const help = (path: string) => schemaAt(schema, path)?.description;

  const update = (next: JobForm) => {
    setForm(next);
    if (attempted && validator) {
      setRejectedByServer(false);
      setErrors(validateJobInput(validator, toJobInput(next)));
    }
  };
  const set = <K extends keyof JobForm>(k: K, v: JobForm[K]) => update({ ...form, [k]: v });
  const setCamera = (i: number, patch: Partial<CameraForm>) => set('cameras', form.cameras.map((c, j) => (j === i ? { ...c, ...patch } : c)));

  const showErrors = (errs: FieldError[]) => {
    setErrors(errs);
    const first = errs.find((e) => document.getElementById(fieldDomId(e.field)));
    if (first) document.getElementById(fieldDomId(first.field))?.focus();
  };

  const submit = (e: FormEvent) => {
    e.preventDefault();
    setAttempted(true);
    setBanner(undefined);
    setRejectedByServer(false);
    const input = toJobInput(form);
    if (validator) {
      const errs = validateJobInput(validator, input);
      if (errs.length) return showErrors(errs);
    }
    setErrors([]);
    create.mutate(input, {
      onSuccess: (job) => router.push(jobHref(job)),
      onError: (err) => {
        if (err instanceof ApiRequestError) {
          // 409 without a field is the name being taken.
          const fieldErrs = err.status === 409 && !err.fieldErrors.length ? [{ field: 'metadata.name', reason: 'FieldValueDuplicate' as const, message: err.message }] : err.fieldErrors;
          if (fieldErrs.length) {
            setRejectedByServer(true);
            return showErrors(fieldErrs);
          }
        }
        setBanner(`Could not create the job: ${err.message}`);
      },
    });
  };

  return (
    <form className="job-form" onSubmit={submit} noValidate aria-labelledby="new-job-title">
      <div className="page-head">
        <h1 id="new-job-title">New tracking job</h1>
      </div>

      {schemaError != null && (
        <div className="alert alert-warn" role="status">
          Could not load the job schema ({(schemaError as Error).message}); the server will still check the job.
        </div>
      )}
      {banner && (
        <div className="alert alert-error" role="alert" data-testid="form-error">
          {banner}
        </div>
      )}
      {errors.length > 0 && (
        <div className="alert alert-error" role="alert" data-testid="error-summary">
          {rejectedByServer ? 'The server rejected the job: ' : ''}
          {errors.length === 1 ? '1 field needs attention.' : `${errors.length} fields need attention.`}
          {unplaced.length > 0 && (
            <ul>
              {unplaced.map((e) => (
                <li key={`${e.field}|${e.reason}`} data-testid={`error-${e.field}`}>
                  <code>{e.field || '(object)'}</code>: {e.message}
                </li>
              ))}
            </ul>
          )}
        </div>
      )}

      <section className="card form-section" aria-labelledby="sec-job">
        <h2 id="sec-job">Job</h2>
        <div className="grid grid-3">
          <Field path="metadata.name" label="Name" errors={errorMap} hint="Lowercase letters, digits and '-', at most 63 characters.">
            {(p) => <input {...p} value={form.name} autoFocus placeholder="e.g. lobby-tracking" spellCheck={false} onChange={(e) => set('name', e.target.value)} />}
          </Field>
          <Field path="metadata.namespace" label="Namespace" errors={errorMap}>
            {(p) =>
              allowedNamespaces ? (
                <select {...p} value={form.namespace} onChange={(e) => set('namespace', e.target.value)}>
                  {!allowedNamespaces.includes(form.namespace) && <option value={form.namespace}>{form.namespace}</option>}
                  {allowedNamespaces.map((ns) => (
                    <option key={ns}>{ns}</option>
                  ))}
                </select>
              ) : (
                <input {...p} value={form.namespace} spellCheck={false} onChange={(e) => set('namespace', e.target.value)} />
              )
            }
          </Field>
          <Field path="spec.mode" label="Mode" errors={errorMap} hint={help('spec.mode')}>
            {(p) => (
              <select {...p} value={form.mode} onChange={(e) => set('mode', e.target.value as JobForm['mode'])}>
                <option value="live">live</option>
                <option value="history">history</option>
              </select>
            )}
          </Field>
        </div>
      </section>

      <section className="card form-section" aria-labelledby="sec-cams">
        <div className="section-head">
          <h2 id="sec-cams">Cameras</h2>
          <button
            type="button"
            className="btn btn-sm"
            onClick={() => set('cameras', [...form.cameras, newCamera(form.cameras.length, form.cameras.at(-1)?.node)])}
            disabled={form.cameras.length >= 64}
          >
            Add camera
          </button>
        </div>
        <p className="field-hint">{help('spec.cameras')}</p>
        {errorMap.get('spec.cameras') && (
          <p className="field-error" data-testid="error-spec.cameras" role="alert">
            {errorMap.get('spec.cameras')!.message}
          </p>
        )}
        {form.cameras.map((c, i) => (
          <CameraRow
            key={c.id}
            index={i}
            camera={c}
            errors={errorMap}
            schema={schema}
            canRemove={form.cameras.length > 1}
            onChange={(patch) => setCamera(i, patch)}
            onRemove={() => set('cameras', form.cameras.filter((_, j) => j !== i))}
          />
        ))}
      </section>

      <section className="card form-section" aria-labelledby="sec-det">
        <h2 id="sec-det">Detector</h2>
        <div className="grid grid-4">
          <Field path="spec.models.detector.decoder" label="Decoder" errors={errorMap} hint={help('spec.models.detector.decoder')}>
            {(p) => (
              <select {...p} value={form.detector.decoder} onChange={(e) => set('detector', { ...form.detector, decoder: e.target.value as JobForm['detector']['decoder'] })}>
                <option value="yolox">yolox</option>
                <option value="nanodet">nanodet</option>
                <option value="yolov8">yolov8</option>
              </select>
            )}
          </Field>
          <Field path="spec.models.detector.name" label="Registry model" errors={errorMap} hint="yolox-nano or nanodet-m; leave empty to use a path.">
            {(p) => <input {...p} list="detector-models" value={form.detector.name} spellCheck={false} onChange={(e) => set('detector', { ...form.detector, name: e.target.value })} />}
          </Field>
          <Field path="spec.models.detector.path" label="Model path" errors={errorMap} hint="Optional ONNX file (relative to MEI_MODEL_DIR); overrides the registry file.">
            {(p) => <input {...p} value={form.detector.path} spellCheck={false} placeholder="yolox_nano.onnx" onChange={(e) => set('detector', { ...form.detector, path: e.target.value })} />}
          </Field>
          <Field path="spec.models.detector.scoreThreshold" label="Score threshold" errors={errorMap} hint="0–1; detections below it are dropped.">
            {(p) => (
              <input
                {...p}
                type="number"
                inputMode="decimal"
                {...numberBounds(schemaAt(schema, 'spec.models.detector.scoreThreshold'))}
                value={form.detector.scoreThreshold}
                onChange={(e) => set('detector', { ...form.detector, scoreThreshold: e.target.value })}
              />
            )}
          </Field>
        </div>
        <datalist id="detector-models">
          <option value="yolox-nano" />
          <option value="nanodet-m" />
        </datalist>
      </section>

      <section className="card form-section" aria-labelledby="sec-reid">
        <h2 id="sec-reid">Re-identification</h2>
        <div className="grid grid-3">
          <Field path="spec.models.reid.kind" label="Embedder" errors={errorMap} hint={help('spec.models.reid.kind')}>
            {(p) => (
              <select {...p} value={form.reid.kind} onChange={(e) => set('reid', { ...form.reid, kind: e.target.value as JobForm['reid']['kind'] })}>
                <option value="onnx">onnx (ReID network)</option>
                <option value="histogram">histogram (no model)</option>
                <option value="none">not set (server default)</option>
              </select>
            )}
          </Field>
          {form.reid.kind === 'onnx' && (
            <>
              <Field path="spec.models.reid.name" label="Registry model" errors={errorMap} hint="e.g. osnet-x0.25-msmt17">
                {(p) => <input {...p} list="reid-models" value={form.reid.name} spellCheck={false} onChange={(e) => set('reid', { ...form.reid, name: e.target.value })} />}
              </Field>
              <Field path="spec.models.reid.path" label="Model path" errors={errorMap} hint="Optional ONNX file (relative to MEI_MODEL_DIR).">
                {(p) => <input {...p} value={form.reid.path} spellCheck={false} onChange={(e) => set('reid', { ...form.reid, path: e.target.value })} />}
              </Field>
            </>
          )}
        </div>
        <datalist id="reid-models">
          <option value="osnet-x0.25-msmt17" />
        </datalist>
      </section>

      <section className="card form-section" aria-labelledby="sec-track">
        <h2 id="sec-track">Tracking, privacy and retention</h2>
        <div className="grid grid-4">
          <Field path="spec.tracking.type" label="Tracking" errors={errorMap} hint={help('spec.tracking.type')}>
            {(p) => (
              <select {...p} value={form.tracking.type} onChange={(e) => set('tracking', { ...form.tracking, type: e.target.value as JobForm['tracking']['type'] })}>
                <option value="multi">multi</option>
                <option value="single">single</option>
              </select>
            )}
          </Field>
          {form.tracking.type === 'single' && (
            <Field path="spec.tracking.target.identity" label="Target identity" errors={errorMap} hint={help('spec.tracking.target.identity')}>
              {(p) => <input {...p} value={form.tracking.targetIdentity} onChange={(e) => set('tracking', { ...form.tracking, targetIdentity: e.target.value })} />}
            </Field>
          )}
          <Field path="spec.privacy.preview" label="Privacy preview" errors={errorMap} hint={help('spec.privacy.preview')}>
            {(p) => (
              <select {...p} value={form.preview} onChange={(e) => set('preview', e.target.value as JobForm['preview'])}>
                <option value="none">none</option>
                <option value="snapshot">snapshot</option>
                <option value="thumbnails">thumbnails</option>
                <option value="live">live</option>
              </select>
            )}
          </Field>
          <Field path="spec.retention.tracksDays" label="Retention (days)" errors={errorMap} hint={help('spec.retention.tracksDays')}>
            {(p) => (
              <input {...p} type="number" inputMode="numeric" {...numberBounds(schemaAt(schema, 'spec.retention.tracksDays'))} value={form.tracksDays} onChange={(e) => set('tracksDays', e.target.value)} />
            )}
          </Field>
        </div>
      </section>

      <div className="form-actions">
        <Link href="/" className="btn btn-ghost">
          Cancel
        </Link>
        <button type="submit" className="btn btn-primary" disabled={create.isPending || schemaLoading} data-testid="create-job">
          {schemaLoading ? 'Loading schema…' : create.isPending ? 'Creating…' : 'Create job'}
        </button>
      </div>
    </form>
  );
}
