import type { MultiEdgeInference } from '@mei/contracts';

/** The job's phase as the table and detail show it; a job being deleted shows Terminating. */
export function displayPhase(job: MultiEdgeInference): string {
  if (job.metadata.deletionTimestamp) return 'Terminating';
  return job.status?.phase ?? 'Pending';
}

export function PhaseBadge({ phase, testId = 'phase' }: { phase: string; testId?: string }) {
  return (
    <span className={`badge badge-${phase.toLowerCase()}`} data-testid={testId} aria-label={`Phase: ${phase}`}>
      {phase}
    </span>
  );
}
