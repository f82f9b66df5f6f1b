'use client';
import type { FieldError, JSONSchema } from '@mei/contracts';
import { Field, FieldErrorText } from '@/app/components/Field';
import type { CameraForm } from '@/app/lib/jobForm';
import { numberBounds, schemaAt } from '@/app/lib/schemaInfo';

const ROI_KEYS = ['x', 'y', 'width', 'height'] as const;

export function CameraRow({
  index,
  camera,
  errors,
  schema,
  canRemove,
  onChange,
  onRemove,
}: {
  index: number;
  camera: CameraForm;
  errors: Map<string, FieldError>;
  schema?: JSONSchema;
  canRemove: boolean;
  onChange: (patch: Partial<CameraForm>) => void;
  onRemove: () => void;
}) {
  const base = `spec.cameras[${index}]`;
  const help = (k: string) => schemaAt(schema, `${base}.${k}`)?.description;
  return (
    <fieldset className="camera-row" data-testid={`camera-${index}`}>
      <legend>
        Camera {index + 1}
        {canRemove && (
          <button type="button" className="btn btn-ghost btn-sm" onClick={onRemove} aria-label={`Remove camera ${index + 1}`}>
            Remove
          </button>
        )}
      </legend>
      {/* Row-level errors, e.g. a duplicate camera name (list-type=map key). */}
      <FieldErrorText path={base} error={errors.get(base)} />
      <div className="grid grid-cam">
        <Field path={`${base}.name`} label="Name" errors={errors}>
          {(p) => <input {...p} title={help('name')} value={camera.name} onChange={(e) => onChange({ name: e.target.value })} />}
        </Field>
        <Field path={`${base}.node`} label="Edge node" errors={errors}>
          {(p) => <input {...p} title={help('node')} value={camera.node} onChange={(e) => onChange({ node: e.target.value })} />}
        </Field>
        <Field path={`${base}.fps`} label="FPS" errors={errors}>
          {(p) => <input {...p} type="number" inputMode="decimal" title={help('fps')} {...numberBounds(schemaAt(schema, `${base}.fps`))} value={camera.fps} onChange={(e) => onChange({ fps: e.target.value })} />}
        </Field>
        <div className="field checks">
          <label>
            <input type="checkbox" checked={camera.loop} title={help('loop')} onChange={(e) => onChange({ loop: e.target.checked })} /> Loop recording
          </label>
          <label>
            <input type="checkbox" checked={camera.roiEnabled} title={help('roi')} onChange={(e) => onChange({ roiEnabled: e.target.checked })} /> Region of interest
          </label>
          <FieldErrorText path={`${base}.loop`} error={errors.get(`${base}.loop`)} />
          <FieldErrorText path={`${base}.roi`} error={errors.get(`${base}.roi`)} />
        </div>
        <Field path={`${base}.source`} label="Source" errors={errors} className="span-all">
          {(p) => <input {...p} title={help('source')} value={camera.source} spellCheck={false} onChange={(e) => onChange({ source: e.target.value })} />}
        </Field>
      </div>
      {camera.roiEnabled && (
        <div className="grid grid-roi" role="group" aria-label={`Camera ${index + 1} region of interest (pixels)`}>
          {ROI_KEYS.map((k) => (
            <Field key={k} path={`${base}.roi.${k}`} label={`ROI ${k}`} errors={errors}>
              {(p) => (
                <input
                  {...p}
                  type="number"
                  inputMode="numeric"
                  title={help(`roi.${k}`)}
                  {...numberBounds(schemaAt(schema, `${base}.roi.${k}`))}
                  value={camera.roi[k]}
                  onChange={(e) => onChange({ roi: { ...camera.roi, [k]: e.target.value } })}
                />
              )}
            </Field>
          ))}
        </div>
      )}
    </fieldset>
  );
}
