import { applyDefaults, type MultiEdgeInferenceSpec } from '@mei/contracts';

/** The settings that matter at a glance; the full object is one click away. */
export function SpecSummary({ spec: stored }: { spec: MultiEdgeInferenceSpec }) {
  // The effective settings: a job stored before a default existed shows the CRD's default.
  const spec = applyDefaults(stored);
  const det = spec.models.detector;
  const reid = spec.models.reid;
  return (
    <>
      <dl className="spec-grid" data-testid="spec-summary">
        <dt>Detector</dt>
        <dd>
          {det.name ?? det.path ?? '—'} <span className="muted">({det.decoder}, score ≥ {det.scoreThreshold})</span>
        </dd>
        <dt>Re-identification</dt>
        <dd>{reid ? `${reid.kind}${reid.name || reid.path ? ` — ${reid.name ?? reid.path}` : ''}` : 'histogram (default)'}</dd>
        <dt>Tracking</dt>
        <dd>
          {spec.tracking.type}
          {spec.tracking.target?.identity ? ` → ${spec.tracking.target.identity}` : ''}
        </dd>
        <dt>Cross-camera</dt>
        <dd>{spec.crossCamera.enabled ? 'on' : 'off'}</dd>
        <dt>Privacy preview</dt>
        <dd>{spec.privacy.preview}</dd>
        <dt>Retention</dt>
        <dd>{spec.retention.tracksDays} days</dd>
        <dt>Cameras</dt>
        <dd>
          <ul className="plain">
            {spec.cameras.map((c) => (
              <li key={c.name}>
                <strong>{c.name}</strong> on <code>{c.node}</code> — <code className="break">{c.source}</code> @ {c.fps} fps
                {c.loop ? ', loop' : ''}
                {c.roi ? `, ROI ${c.roi.x},${c.roi.y} ${c.roi.width}×${c.roi.height}` : ''}
              </li>
            ))}
          </ul>
        </dd>
      </dl>
      <details className="raw">
        <summary>Full spec (JSON)</summary>
        <pre>{JSON.stringify(stored, null, 2)}</pre>
      </details>
    </>
  );
}
