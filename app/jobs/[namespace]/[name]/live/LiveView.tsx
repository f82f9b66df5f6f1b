'use client';
// Live cross-camera tracking of one job: a canvas per camera with boxes, labels and trails by global
// identity, the identity list beside them, and "follow": one identity highlighted everywhere, with an
// alert when it shows up in another camera. Frames never pass through React state (see LiveCameraCanvas).
import Link from 'next/link';
import { useState } from 'react';
import { previewAllows, previewOf, type CameraSpec, type Preview } from '@mei/contracts';
import { IdentityList } from '@/app/components/IdentityList';
import { LiveCameraCanvas } from '@/app/components/LiveCameraCanvas';
import { LiveIndicator } from '@/app/components/LiveIndicator';
import { PhaseBadge, displayPhase } from '@/app/components/PhaseBadge';
import { useJob, useJobEvents } from '@/app/lib/hooks';
import { useFollowAlerts, useFollowing, useIdentityThumbnails, useLiveFeed, useLiveIdentities } from '@/app/lib/liveFeed';
import { identityColor, type LiveStore } from '@/app/lib/liveStore';
import type { ThumbnailStore } from '@/app/lib/liveThumbnails';
import './live.css';
import { JobPlaceholder } from '@/app/components/JobPlaceholder';

const PRIVACY_NOTE: Record<Preview, string> = {
  none: 'Privacy: no pixels leave the edge — overlays are drawn on a neutral background.',
  snapshot: 'Privacy: one still frame per camera on request.',
  thumbnails: 'Privacy: small person crops are shown beside identities (and kept for search); cameras show overlays only.',
  live: 'Privacy: a low-rate JPEG preview is drawn under the overlays; person crops are shown beside identities.',
};

export function LiveView({ namespace, name }: { namespace: string; name: string }) {
  const job = useJob(namespace, name);
  useJobEvents(); // keeps the job (phase, deletion) current
  const feed = useLiveFeed(`${namespace}/${name}`);

  if (!job.data) return <JobPlaceholder job={job} namespace={namespace} name={name} />;

  const j = job.data;
  const preview = previewOf(j.spec);
  return (
    <article aria-labelledby="live-title" className="live-view">
      <nav className="crumbs" aria-label="Breadcrumb">
        <Link href="/">Jobs</Link> <span aria-hidden>/</span> <span>{namespace}</span> <span aria-hidden>/</span>{' '}
        <Link href={`/jobs/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}`}>{name}</Link>
      </nav>
      <div className="page-head">
        <h1 id="live-title">{name}: live</h1>
        <PhaseBadge phase={displayPhase(j)} />
        <LiveIndicator status={feed.status} error={feed.error} />
      </div>
      {feed.error && (
        <div className="alert alert-error" role="alert" data-testid="live-error">
          {feed.error}
        </div>
      )}
      <p className="muted live-privacy" data-testid="privacy-note">
        {PRIVACY_NOTE[preview]}
      </p>
      <FollowBar store={feed.store} />
      <div className="live-layout">
        <div className={`live-cameras live-cameras-${Math.min(j.spec.cameras.length, 3)}`}>
          {j.spec.cameras.map((c) => (
            <CameraPanel key={c.name} camera={c} store={feed.store} preview={preview} snapshot={feed.snapshot} />
          ))}
        </div>
        <Identities store={feed.store} thumbs={feed.thumbs} />
      </div>
    </article>
  );
}

function CameraPanel({ camera, store, preview, snapshot }: { camera: CameraSpec; store: LiveStore; preview: Preview; snapshot(camera: string): Promise<string | undefined> }) {
  const [note, setNote] = useState<string>();
  const aspect = camera.roi ? camera.roi.width / camera.roi.height : 4 / 3;
  return (
    <figure className="card live-camera" data-testid={`camera-${camera.name}`}>
      <LiveCameraCanvas store={store} camera={camera.name} aspect={aspect} preview={preview} />
      <figcaption>
        <strong>{camera.name}</strong> <span className="muted">on {camera.node}</span>
        {previewAllows(preview, 'snapshot') && (
          <button
            type="button"
            className="btn btn-sm"
            onClick={async () => {
              setNote('asking…');
              setNote((await snapshot(camera.name)) ?? undefined);
            }}
          >
            Snapshot
          </button>
        )}
        {note && <span className="field-error">{note}</span>}
      </figcaption>
    </figure>
  );
}

function Identities({ store, thumbs }: { store: LiveStore; thumbs: ThumbnailStore }) {
  const { identities, total } = useLiveIdentities(store);
  const following = useFollowing(store);
  const thumbnails = useIdentityThumbnails(thumbs);
  return <IdentityList identities={identities} total={total} following={following} onFollow={(id) => store.follow(id)} thumbnails={thumbnails} />;
}

function FollowBar({ store }: { store: LiveStore }) {
  const following = useFollowing(store);
  const alerts = useFollowAlerts(store);
  return (
    <>
      {following && (
        <div className="follow-bar" data-testid="following">
          <span className="id-swatch" style={{ background: identityColor(following) }} aria-hidden />
          Following <strong>{following}</strong> in every camera
          <button type="button" className="btn btn-sm btn-ghost" onClick={() => store.follow(null)}>
            Stop
          </button>
        </div>
      )}
      <div className="toasts" role="status" aria-live="polite">
        {alerts.map((a) => (
          <div key={`${a.id}-${a.at}`} className="toast" data-testid="follow-alert">
            <span className="id-swatch" style={{ background: identityColor(a.id) }} aria-hidden />
            <strong>{a.id}</strong>&nbsp;appeared in camera <strong>{a.camera}</strong>
            {a.from ? <span className="muted">&nbsp;(from {a.from})</span> : null}
          </div>
        ))}
      </div>
    </>
  );
}
