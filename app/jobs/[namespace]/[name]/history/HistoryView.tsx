'use client';
// A job's stored tracks, newest first, filtered by camera and time range; each can start a person search.
import { useState } from 'react';
import Link from 'next/link';
import { apiPaths } from '@mei/contracts';
import { useJob } from '@/app/lib/hooks';
import { useTracks } from '@/app/search/api';
import { formatDuration, formatTrackTime, parseTimeInput } from '@/app/search/time';
import styles from '@/app/search/search.module.css';
import { DataTable } from '@/app/components/DataTable';
import { TracksPerHourChart } from './TracksPerHourChart';

export function HistoryView({ namespace, name }: { namespace: string; name: string }) {
  const key = `${namespace}/${name}`;
  const job = useJob(namespace, name);
  const [camera, setCamera] = useState('');
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [pages, setPages] = useState<string[]>([]);
  // History jobs' times are offsets into the recording; a deleted job's tracks are shown the same way.
  const history = job.data ? job.data.spec.mode === 'history' : true;
  const filter = { cameras: camera ? [camera] : undefined, fromMs: parseTimeInput(from, history), toMs: parseTimeInput(to, history) };
  const tracks = useTracks(key, filter, pages[pages.length - 1]);
  const resetPaging = () => setPages([]);

  return (
    <article className="detail">
      <nav className="crumbs" aria-label="Breadcrumb">
        <Link href="/">Jobs</Link> <span aria-hidden>/</span>{' '}
        <Link href={`/jobs/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}`}>{key}</Link> <span aria-hidden>/</span> <span>history</span>
      </nav>
      <div className="page-head">
        <h1>History of {name}</h1>
        <div className="header-spacer" />
        <Link className="btn" href={`/search?job=${encodeURIComponent(key)}`}>
          Search by picture
        </Link>
      </div>
      <section className="card" aria-labelledby="hourly-title">
        <h2 id="hourly-title">Tracks per hour</h2>
        <TracksPerHourChart jobKey={key} recording={history} />
      </section>
      <section className="card" aria-label="Filters">
        <div className={styles.filters}>
          <div className="field">
            <label htmlFor="hist-camera">Camera</label>
            <select id="hist-camera" value={camera} onChange={(e) => (setCamera(e.target.value), resetPaging())} data-testid="history-camera">
              <option value="">All cameras</option>
              {(tracks.data?.cameras ?? []).map((c) => (
                <option key={c} value={c}>
                  {c}
                </option>
              ))}
            </select>
          </div>
          <div className="field">
            <label htmlFor="hist-from">{history ? 'From (s into the recording)' : 'From'}</label>
            <input id="hist-from" type={history ? 'number' : 'datetime-local'} min={0} step="any" value={from} onChange={(e) => (setFrom(e.target.value), resetPaging())} />
          </div>
          <div className="field">
            <label htmlFor="hist-to">{history ? 'To (s)' : 'To'}</label>
            <input id="hist-to" type={history ? 'number' : 'datetime-local'} min={0} step="any" value={to} onChange={(e) => (setTo(e.target.value), resetPaging())} />
          </div>
        </div>
      </section>
      {tracks.isLoading && <p className="muted">Loading tracks…</p>}
      {tracks.error && (
        <div className="alert alert-error" role="alert">
          Could not load the tracks: {tracks.error.message}
        </div>
      )}
      {tracks.data && (
        <section className="card table-wrap" aria-label="Tracks">
          {tracks.data.items.length === 0 ? (
            <p className="muted">No stored tracks{camera || from || to ? ' match these filters' : ' yet'}.</p>
          ) : (
            <DataTable
              testId="tracks-table"
              rows={tracks.data.items}
              rowKey={(t) => t.id}
              rowTestId={(t) => `track-row-${t.id}`}
              columns={[
                {
                  header: 'Person',
                  cell: (t) =>
                    t.thumbnail ? (
                      // eslint-disable-next-line @next/next/no-img-element
                      <img className={styles.thumb} style={{ width: 24, height: 48 }} src={apiPaths.trackThumbnail(t.id)} alt="" />
                    ) : (
                      <span className="mono">#{t.localId}</span>
                    ),
                },
                { header: 'Camera', cell: (t) => t.camera },
                { header: 'Identity', cell: (t) => t.globalId ?? '—', className: 'mono', testId: 'track-identity' },
                { header: 'Seen', cell: (t) => `${formatTrackTime(t.startMs)} – ${formatTrackTime(t.endMs)}` },
                { header: 'Duration', cell: (t) => formatDuration(t.endMs - t.startMs), num: true },
                {
                  header: '',
                  cell: (t) => (
                    <Link className="btn btn-sm" href={`/search?track=${encodeURIComponent(t.id)}`} data-testid="find-person">
                      Find this person
                    </Link>
                  ),
                },
              ]}
            />
          )}
          <div className={styles.actions}>
            {pages.length > 0 && (
              <button type="button" className="btn btn-sm" onClick={() => setPages((p) => p.slice(0, -1))}>
                Newer
              </button>
            )}
            {tracks.data.next && (
              <button type="button" className="btn btn-sm" onClick={() => setPages((p) => [...p, tracks.data!.next!])}>
                Older
              </button>
            )}
          </div>
        </section>
      )}
    </article>
  );
}
