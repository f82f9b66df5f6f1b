'use client';
import { applyDefaults } from '@mei/contracts';
import Link from 'next/link';
import { Age } from '@/app/components/Age';
import { LiveIndicator } from '@/app/components/LiveIndicator';
import { PhaseBadge, displayPhase } from '@/app/components/PhaseBadge';
import { useJob, useJobEvents } from '@/app/lib/hooks';
import { CamerasTable, ConditionsTable, WorkersTable } from './StatusTables';
import { DeleteJobButton } from './DeleteJobButton';
import { SpecSummary } from './SpecSummary';
import { HistoryProgress } from './HistoryProgress';
import { CameraCharts } from './CameraCharts';
import { JobPlaceholder } from '@/app/components/JobPlaceholder';

export function JobDetail({ namespace, name }: { namespace: string; name: string }) {
  const job = useJob(namespace, name);
  const live = useJobEvents();

  if (!job.data) return <JobPlaceholder job={job} namespace={namespace} name={name} />;

  const j = job.data;
  const st = j.status ?? {};
  const progress = j.spec.mode === 'history' ? Math.max(0, Math.min(1, st.progress ?? 0)) : undefined;
  return (
    <article aria-labelledby="job-title" className="detail">
      <nav className="crumbs" aria-label="Breadcrumb">
        <Link href="/">Jobs</Link> <span aria-hidden>/</span> <span>{j.metadata.namespace}</span>
      </nav>
      <div className="page-head">
        <h1 id="job-title">{j.metadata.name}</h1>
        <PhaseBadge phase={displayPhase(j)} />
        <LiveIndicator status={live.status} error={live.error} />
        <div className="header-spacer" />
        <Link href={`/jobs/${encodeURIComponent(j.metadata.namespace)}/${encodeURIComponent(j.metadata.name)}/live`} className="btn btn-primary" data-testid="live-view-link">
          Live view
        </Link>
        <Link href={`/jobs/${encodeURIComponent(j.metadata.namespace)}/${encodeURIComponent(j.metadata.name)}/history`} className="btn" data-testid="history-link">
          History
        </Link>
        <DeleteJobButton namespace={j.metadata.namespace} name={j.metadata.name} terminating={Boolean(j.metadata.deletionTimestamp)} />
      </div>

      <dl className="facts card">
        <div>
          <dt>Mode</dt>
          <dd>{applyDefaults(j.spec).mode}</dd>
        </div>
        <div>
          <dt>Cameras</dt>
          <dd>{st.cameraCount ?? j.spec.cameras.length}</dd>
        </div>
        <div>
          <dt>Identities</dt>
          <dd data-testid="identities">{st.identities ?? 0}</dd>
        </div>
        <div>
          <dt>Created</dt>
          <dd>
            <Age since={j.metadata.creationTimestamp} /> ago
          </dd>
        </div>
        <div>
          <dt>Started</dt>
          <dd>{st.startTime ? <><Age since={st.startTime} /> ago</> : '—'}</dd>
        </div>
        <div>
          <dt>Generation</dt>
          <dd title={`observed ${st.observedGeneration ?? '—'}`}>{j.metadata.generation}</dd>
        </div>
      </dl>

      {progress !== undefined && <HistoryProgress status={st} />}

      <section className="card" aria-labelledby="cond-title">
        <h2 id="cond-title">Conditions</h2>
        <ConditionsTable conditions={st.conditions ?? []} />
      </section>
      <section className="card" aria-labelledby="workers-title">
        <h2 id="workers-title">Workers</h2>
        <WorkersTable workers={st.workers ?? []} />
      </section>
      <section className="card" aria-labelledby="cams-title">
        <h2 id="cams-title">Cameras</h2>
        <CamerasTable cameras={st.cameras ?? []} spec={j.spec.cameras} />
      </section>
      <section className="card" aria-labelledby="charts-title">
        <h2 id="charts-title">Last 15 minutes</h2>
        <CameraCharts namespace={j.metadata.namespace} name={j.metadata.name} />
      </section>
      <section className="card" aria-labelledby="spec-title">
        <h2 id="spec-title">Spec</h2>
        <SpecSummary spec={j.spec} />
      </section>
    </article>
  );
}
