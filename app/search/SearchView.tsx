'use client';
// Person search: upload a picture of a person (or come from a stored track's "Find this person"), pick the
// job and optional filters, get identities ranked by appearance distance.
import { useEffect, useMemo, useState, type FormEvent } from 'react';
import Link from 'next/link';
import { useRouter, useSearchParams } from 'next/navigation';
import { jobKey, type PersonSearchResponse } from '@mei/contracts';
import { useJobs } from '@/app/lib/hooks';
import { ApiRequestError } from '@/app/lib/http';
import { useImageSearch, useTrackSearch } from './api';
import { IdentityCard } from './IdentityCard';
import styles from './search.module.css';
import { parseTimeInput } from './time';

function Results({ data }: { data: PersonSearchResponse }) {
  const q = data.query;
  return (
    <section aria-labelledby="results-title">
      <div className="section-head">
        <h2 id="results-title">
          {data.identities.length} {data.identities.length === 1 ? 'person' : 'people'} found
        </h2>
        <p className="muted" data-testid="search-stats">
          {q.kind === 'track' ? `like track ${q.trackId}` : q.image?.detected ? 'person detected in the image' : 'whole image as the person'} · model {q.model || '—'} ·{' '}
          {data.stats.indexed} stored embeddings, {data.stats.candidates} compared · {data.stats.ms} ms
        </p>
      </div>
      {data.identities.length === 0 ? (
        <div className="card empty">
          <p>No stored track of this job matches. Tracks become searchable a second after they are seen.</p>
        </div>
      ) : (
        <div className={styles.results} data-testid="results">
          {data.identities.map((m, i) => (
            <IdentityCard key={`${m.jobKey}/${m.identity}`} match={m} rank={i + 1} />
          ))}
        </div>
      )}
    </section>
  );
}

export function SearchView() {
  const params = useSearchParams();
  const router = useRouter();
  const trackParam = params.get('track') ?? undefined;
  const jobs = useJobs();
  const [job, setJob] = useState(params.get('job') ?? '');
  const [file, setFile] = useState<File>();
  const [previewUrl, setPreviewUrl] = useState<string>();
  const [detect, setDetect] = useState(true);
  const [cameras, setCameras] = useState<string[]>([]);
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const imageSearch = useImageSearch();
  const trackSearch = useTrackSearch();
  const [last, setLast] = useState<'image' | 'track'>(trackParam ? 'track' : 'image');

  const items = jobs.data ?? [];
  const selected = items.find((j) => jobKey(j) === job);
  const history = selected?.spec.mode === 'history';
  useEffect(() => {
    if (!job && items.length) setJob(jobKey(items[0]));
  }, [job, items]);
  useEffect(() => {
    if (!file) return setPreviewUrl(undefined);
    const url = URL.createObjectURL(file);
    setPreviewUrl(url);
    return () => URL.revokeObjectURL(url);
  }, [file]);
  const filters = useMemo(
    () => ({ cameras: cameras.length ? cameras : undefined, fromMs: parseTimeInput(from, history), toMs: parseTimeInput(to, history) }),
    [cameras, from, to, history],
  );

  // "Find this person" from a stored track: search at once, in the track's own job.
  useEffect(() => {
    if (!trackParam) return;
    setLast('track');
    trackSearch.mutate({ trackId: trackParam, ...(params.get('job') ? { job: params.get('job')! } : {}) });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [trackParam]);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!file || !job) return;
    setLast('image');
    if (trackParam) router.replace('/search');
    imageSearch.mutate({ job, image: file, detect, ...filters });
  };
  const active = last === 'image' ? imageSearch : trackSearch;
  const err = active.error instanceof ApiRequestError ? active.error : undefined;

  return (
    <div>
      <div className="page-head">
        <h1>Person search</h1>
      </div>
      <form className="card" onSubmit={submit} aria-label="Search by image">
        <div className={styles.queryRow}>
          {previewUrl && (
            // eslint-disable-next-line @next/next/no-img-element
            <img className={styles.preview} src={previewUrl} alt="Query" />
          )}
          <div className={styles.form} style={{ flex: 1 }}>
            <div className="field">
              <label htmlFor="search-image">Picture of the person (JPEG or PNG, ≤ 5 MB)</label>
              <input id="search-image" type="file" accept="image/jpeg,image/png" onChange={(e) => setFile(e.target.files?.[0])} data-testid="search-image" />
            </div>
            <div className="field">
              <label htmlFor="search-job">Job</label>
              <select id="search-job" value={job} onChange={(e) => (setJob(e.target.value), setCameras([]))} data-testid="search-job">
                {items.map((j) => (
                  <option key={jobKey(j)} value={jobKey(j)}>
                    {jobKey(j)}
                  </option>
                ))}
              </select>
            </div>
            <div className="field">
              <label htmlFor="search-from">{history ? 'From (s into the recording)' : 'From'}</label>
              <input id="search-from" type={history ? 'number' : 'datetime-local'} min={0} step="any" value={from} onChange={(e) => setFrom(e.target.value)} />
            </div>
            <div className="field">
              <label htmlFor="search-to">{history ? 'To (s)' : 'To'}</label>
              <input id="search-to" type={history ? 'number' : 'datetime-local'} min={0} step="any" value={to} onChange={(e) => setTo(e.target.value)} />
            </div>
            <div className="field checks">
              <label>
                <input type="checkbox" checked={detect} onChange={(e) => setDetect(e.target.checked)} data-testid="search-detect" /> Find the person in the picture
              </label>
            </div>
          </div>
        </div>
        {selected && selected.spec.cameras.length > 1 && (
          <fieldset className="plain" style={{ border: 0, padding: 0, margin: '12px 0 0' }}>
            <legend className="muted">Cameras (none ticked: all)</legend>
            <div className={styles.actions}>
              {selected.spec.cameras.map((c) => (
                <label key={c.name}>
                  <input
                    type="checkbox"
                    checked={cameras.includes(c.name)}
                    onChange={(e) => setCameras((cur) => (e.target.checked ? [...cur, c.name] : cur.filter((x) => x !== c.name)))}
                  />{' '}
                  {c.name}
                </label>
              ))}
            </div>
          </fieldset>
        )}
        <div className="form-actions">
          <button type="submit" className="btn btn-primary" disabled={!file || !job || imageSearch.isPending} data-testid="search-submit">
            {imageSearch.isPending ? 'Searching…' : 'Search'}
          </button>
          {selected && (
            <Link href={`/jobs/${encodeURIComponent(selected.metadata.namespace)}/${encodeURIComponent(selected.metadata.name)}/history`}>Browse this job&apos;s tracks</Link>
          )}
        </div>
      </form>
      {active.isPending && <p className="muted">Searching…</p>}
      {active.error && (
        <div className="alert alert-error" role="alert" data-testid="search-error">
          {err?.body?.error ?? active.error.message}
        </div>
      )}
      {active.data && <Results data={active.data} />}
    </div>
  );
}
