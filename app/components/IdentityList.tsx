'use client';
// The live view's side list: recently seen global identities with the cameras they are in now. Clicking
// one follows it (highlighted in every camera, alert when it shows up in another); clicking again stops.
// With privacy.preview 'thumbnails' or 'live' each identity shows its newest person crop.
import type { LiveIdentity } from '@mei/contracts';
import { useNow } from '@/app/lib/hooks';
import { identityColor } from '@/app/lib/liveStore';
import type { IdentityThumb } from '@/app/lib/liveThumbnails';

function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m`;
}

function IdentityThumbnail({ id, thumb }: { id: string; thumb: IdentityThumb }) {
  // A plain <img>: a blob: URL of a few kB that next/image could not optimise anyway.
  return <img className="id-thumb" src={thumb.url} width={thumb.width} height={thumb.height} alt={`Crop of ${id} (camera ${thumb.camera})`} data-testid={`identity-thumb-${id}`} />;
}

export function IdentityList({
  identities,
  total,
  following,
  onFollow,
  thumbnails,
}: {
  identities: LiveIdentity[];
  total: number;
  following: string | null;
  onFollow(id: string | null): void;
  /** Newest crop per identity (absent: no crops, e.g. privacy.preview 'none'). */
  thumbnails?: ReadonlyMap<string, IdentityThumb>;
}) {
  const now = useNow(1_000);
  const inView = identities.filter((i) => i.cameras.length > 0).length;
  return (
    <section className="card live-ids" aria-labelledby="ids-title">
      <h2 id="ids-title">
        Identities <span className="muted" data-testid="identity-counts">{inView} in view · {total} seen</span>
      </h2>
      {identities.length === 0 ? (
        <p className="muted">Nobody yet: identities appear once a tracked person has an appearance embedding.</p>
      ) : (
        <ul className="id-list" data-testid="identity-list">
          {identities.map((i) => {
            const active = following === i.id;
            const thumb = thumbnails?.get(i.id);
            return (
              <li key={i.id}>
                <button
                  type="button"
                  className={`id-item${active ? ' id-following' : ''}${i.cameras.length ? '' : ' id-away'}`}
                  aria-pressed={active}
                  title={active ? 'Stop following' : `Follow ${i.id} across cameras`}
                  onClick={() => onFollow(active ? null : i.id)}
                  data-testid={`identity-${i.id}`}
                >
                  <span className="id-swatch" style={{ background: identityColor(i.id) }} aria-hidden />
                  {thumb && <IdentityThumbnail id={i.id} thumb={thumb} />}
                  <span className="id-name">{i.id}</span>
                  <span className="id-cams">
                    {i.cameras.length ? i.cameras.map((c) => <span key={c} className="id-cam">{c}</span>) : <span className="muted">seen {ago(now - i.lastSeen)} ago</span>}
                  </span>
                </button>
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}
