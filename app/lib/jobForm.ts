// The create-job form's state and its mapping to a MultiEdgeInferenceInput. Number inputs are kept as the
// strings the user typed: an empty box leaves the field out (the CRD default applies), anything else is
// sent as a number, or as the raw text when it is not one, so the schema validator names the field.
import {
  DEFAULT_NAMESPACE,
  validateObjectName,
  applyDefaults,
  withDefaults,
  type DefaultedJobSpec,
  type DetectorSpec,
  type FieldError,
  type MultiEdgeInferenceInput,
  type Preview,
  type ReidSpec,
  type TrackingSpec,
  type Validator,
} from '@mei/contracts';

export interface CameraForm {
  /** React key only; never sent. */
  id: string;
  name: string;
  node: string;
  source: string;
  fps: string;
  loop: boolean;
  roiEnabled: boolean;
  roi: { x: string; y: string; width: string; height: string };
}

export interface JobForm {
  name: string;
  namespace: string;
  mode: DefaultedJobSpec['mode'];
  cameras: CameraForm[];
  detector: { decoder: DetectorSpec['decoder']; name: string; path: string; scoreThreshold: string };
  reid: { kind: 'none' | ReidSpec['kind']; name: string; path: string };
  tracking: { type: NonNullable<TrackingSpec['type']>; targetIdentity: string };
  preview: Preview;
  tracksDays: string;
}

export const SAMPLE_SOURCE = '${MEI_DATA_DIR}/vtest.avi';

let rowIds = 0;
/** Stable React keys for camera rows (indices shift when a row is removed). */
export const nextRowId = () => `cam-${++rowIds}`;

export function newCamera(index: number, node = 'edge-local'): CameraForm {
  return { id: nextRowId(), name: `cam-${index + 1}`, node, source: SAMPLE_SOURCE, fps: String(withDefaults('cameras[]').fps), loop: true, roiEnabled: false, roi: { x: '0', y: '0', width: '384', height: '288' } };
}

/** A minimal spec with the CRD's defaults applied. */
const SPEC = applyDefaults({ cameras: [], models: { detector: { decoder: 'yolox' } } });

export function defaultJobForm(namespace = DEFAULT_NAMESPACE): JobForm {
  return {
    name: '',
    namespace,
    // The CRD's defaults, shown as the form's starting values.
    mode: SPEC.mode,
    cameras: [newCamera(0)],
    detector: { decoder: 'yolox', name: 'yolox-nano', path: '', scoreThreshold: String(SPEC.models.detector.scoreThreshold) },
    reid: { kind: 'onnx', name: 'osnet-x0.25-msmt17', path: '' },
    tracking: { type: SPEC.tracking.type, targetIdentity: '' },
    preview: SPEC.privacy.preview,
    tracksDays: String(SPEC.retention.tracksDays),
  };
}

/** '' -> undefined (use the default), numeric text -> number, other text -> itself (the validator rejects it). */
export function numberOrText(s: string): number | string | undefined {
  const t = s.trim();
  if (t === '') return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : t;
}

const optText = (s: string) => (s.trim() === '' ? undefined : s.trim());

/** Drops undefined members so the object holds only what the user set. */
function compact<T extends Record<string, unknown>>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

export function toJobInput(form: JobForm): MultiEdgeInferenceInput {
  const spec = {
    mode: form.mode,
    cameras: form.cameras.map((c) =>
      compact({
        name: c.name.trim(),
        node: c.node.trim(),
        source: c.source.trim(),
        fps: numberOrText(c.fps),
        loop: c.loop,
        roi: c.roiEnabled
          ? compact({ x: numberOrText(c.roi.x), y: numberOrText(c.roi.y), width: numberOrText(c.roi.width), height: numberOrText(c.roi.height) })
          : undefined,
      }),
    ),
    models: compact({
      detector: compact({
        decoder: form.detector.decoder,
        name: optText(form.detector.name),
        path: optText(form.detector.path),
        scoreThreshold: numberOrText(form.detector.scoreThreshold),
      }),
      reid: form.reid.kind === 'none' ? undefined : compact({ kind: form.reid.kind, name: form.reid.kind === 'onnx' ? optText(form.reid.name) : undefined, path: form.reid.kind === 'onnx' ? optText(form.reid.path) : undefined }),
    }),
    tracking: compact({
      type: form.tracking.type,
      target: form.tracking.type === 'single' && optText(form.tracking.targetIdentity) ? { identity: optText(form.tracking.targetIdentity) } : undefined,
    }),
    privacy: { preview: form.preview },
    retention: compact({ tracksDays: numberOrText(form.tracksDays) }),
  };
  // The form's number/text unions are checked by the validator, not the type system.
  // apiVersion and kind are left to the server (they are optional in the input).
  return { metadata: { name: form.name.trim(), namespace: form.namespace.trim() }, spec: spec as unknown as MultiEdgeInferenceInput['spec'] };
}

/** Every problem the server would report for this input, found in the browser with the same CRD schema. */
export function validateJobInput(validator: Validator, input: MultiEdgeInferenceInput): FieldError[] {
  // validate() fills schema defaults in place; the request should carry only what the user chose.
  const copy = structuredClone(input);
  return [
    ...validateObjectName(input.metadata.name, 'metadata.name'),
    ...validateObjectName(input.metadata.namespace, 'metadata.namespace'),
    ...validator.validate(copy),
  ];
}

/** Errors grouped by field path; the first error per field is shown. */
export function errorsByField(errors: FieldError[]): Map<string, FieldError> {
  const m = new Map<string, FieldError>();
  for (const e of errors) if (!m.has(e.field)) m.set(e.field, e);
  return m;
}

/** A DOM id for the input of a field path (`spec.cameras[0].fps` -> `f-spec-cameras-0-fps`). */
export function fieldDomId(path: string): string {
  return `f-${path.replace(/[^a-zA-Z0-9]+/g, '-').replace(/-+$/, '')}`;
}

/** The field paths the form shows an input (or a row/section) for; errors elsewhere go to the summary. */
export function renderedFieldPaths(form: JobForm): Set<string> {
  const p = new Set<string>(['metadata.name', 'metadata.namespace', 'spec.mode', 'spec.cameras', 'spec.models.detector.decoder', 'spec.models.detector.name', 'spec.models.detector.path', 'spec.models.detector.scoreThreshold', 'spec.tracking.type', 'spec.tracking.target.identity', 'spec.privacy.preview', 'spec.retention.tracksDays']);
  p.add('spec.models.reid.kind');
  if (form.reid.kind === 'onnx') ['name', 'path'].forEach((k) => p.add(`spec.models.reid.${k}`));
  form.cameras.forEach((c, i) => {
    const base = `spec.cameras[${i}]`;
    [base, `${base}.name`, `${base}.node`, `${base}.source`, `${base}.fps`, `${base}.loop`].forEach((f) => p.add(f));
    if (c.roiEnabled) ['', '.x', '.y', '.width', '.height'].forEach((k) => p.add(`${base}.roi${k}`));
  });
  return p;
}
