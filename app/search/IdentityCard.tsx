'use client';
// One search result: a person (global identity) with distance, thumbnails where privacy allowed them, a
// per-camera timeline and an on-demand replay of the boxes.
import { useState } from 'react';
import Link from 'next/link';
import { apiPaths, type IdentityMatch } from '@mei/contracts';
import styles from './search.module.css';
import { Timeline } from './Timeline';
import { Replay } from './Replay';
import { formatDuration, formatTrackTime } from './time';

export function IdentityCard({ match, rank }: { match: IdentityMatch; rank: number }) {
  const [replay, setReplay] = useState(false);
  const thumbs = match.tracks.filter((t) => t.thumbnail).slice(0, 4);
  return (
    <article className={`card ${styles.identity}`} data-testid="identity-card" data-identity={match.identity}>
      <div className={styles.thumbs}>
        {thumbs.length ? (
          thumbs.map((t) => (
            // eslint-disable-next-line @next/next/no-img-element
            <img key={t.id} className={styles.thumb} src={apiPaths.trackThumbnail(t.id)} alt={`Person on ${t.camera}`} data-testid="thumbnail" />
          ))
        ) : (
          <div className={styles.noThumb} title="The job's privacy.preview keeps pixels on the edge">
            no image
          </div>
        )}
      </div>
      <div>
        <div className={styles.identityHead}>
          <h3>
            #{rank} {match.identity}
          </h3>
          <span className={`muted ${styles.distance}`} data-testid="distance">
            distance {match.distance.toFixed(3)}
          </span>
          <span className="muted">
            {match.tracks.length} track{match.tracks.length === 1 ? '' : 's'} · {match.cameras.length} camera{match.cameras.length === 1 ? '' : 's'} ·{' '}
            {formatTrackTime(match.startMs)} – {formatTrackTime(match.endMs)} ({formatDuration(match.endMs - match.startMs)})
          </span>
        </div>
        <Timeline cameras={match.cameras} startMs={match.startMs} endMs={match.endMs} />
        <div className={styles.actions}>
          <button type="button" className="btn btn-sm" onClick={() => setReplay((r) => !r)} aria-expanded={replay}>
            {replay ? 'Hide replay' : 'Replay'}
          </button>
          <Link className="btn btn-sm btn-ghost" href={`/search?track=${encodeURIComponent(match.tracks[0].id)}`}>
            Find this person
          </Link>
          <span className="muted mono" data-testid="track-ids">
            {match.tracks.map((t) => `${t.camera}#${t.localId}`).join(' ')}
          </span>
        </div>
        {replay && <Replay tracks={match.tracks} />}
      </div>
    </article>
  );
}
