'use client';
// Server state hooks (TanStack Query) and the live job feed (Socket.IO /ui) that keeps them current.
import { useEffect, useMemo, useState } from 'react';
import { useMutation, useQuery, useQueryClient, type QueryClient } from '@tanstack/react-query';
import {
  apiPaths,
  createValidator,
  type JobList,
  type JobSeries,
  type JSONSchema,
  type Me,
  type MultiEdgeInference,
  type MultiEdgeInferenceInput,
  type ServerInfo,
  type Validator,
  type WatchEvent,
} from '@mei/contracts';
import { ApiRequestError, apiFetch } from './http';
import { applyEventToJob, applyEventToList, jobEventLog, queryKeys } from './jobCache';
import { acquireUiSocket, closeUiSocket, releaseUiSocket } from './socket';

export function useInfo(enabled = true) {
  return useQuery({ queryKey: queryKeys.info, queryFn: () => apiFetch<ServerInfo>(apiPaths.info), staleTime: Infinity, enabled });
}

export function useMe(enabled = true) {
  return useQuery({ queryKey: queryKeys.me, queryFn: () => apiFetch<Me>(apiPaths.me), staleTime: 5 * 60_000, enabled });
}

/** The CRD schema from the server, compiled once into the same validator the server runs. */
export function useJobValidator(): { validator?: Validator; schema?: JSONSchema; error: unknown; isLoading: boolean } {
  const q = useQuery({ queryKey: queryKeys.schema, queryFn: () => apiFetch<JSONSchema>(apiPaths.schema), staleTime: Infinity });
  const validator = useMemo(() => (q.data ? createValidator(q.data) : undefined), [q.data]);
  return { validator, schema: q.data, error: q.error, isLoading: q.isLoading };
}

export function useJobs() {
  return useQuery({
    queryKey: queryKeys.jobs,
    queryFn: async () => {
      const since = jobEventLog.mark();
      const res = await apiFetch<JobList>(apiPaths.jobs);
      return jobEventLog.mergeList(since, res.items);
    },
  });
}

/** One job; null when it does not exist (404) or was deleted while shown. */
export function useJob(namespace: string, name: string) {
  return useQuery({
    queryKey: queryKeys.job(namespace, name),
    queryFn: async () => {
      const since = jobEventLog.mark();
      let job: MultiEdgeInference | null;
      try {
        job = await apiFetch<MultiEdgeInference>(apiPaths.job(namespace, name));
      } catch (e) {
        if (e instanceof ApiRequestError && e.status === 404) job = null;
        else throw e;
      }
      return jobEventLog.mergeJob(since, namespace, name, job);
    },
  });
}

/** The last minutes of each camera of a job (fps, people in view, live latency), refreshed every sample step. */
export function useJobSeries(namespace: string, name: string) {
  return useQuery({
    queryKey: ['jobs', 'series', namespace, name],
    queryFn: () => apiFetch<JobSeries>(apiPaths.jobSeries(namespace, name)),
    refetchInterval: (q) => Math.max(2_000, q.state.data?.stepMs ?? 5_000),
  });
}

/** Puts one watch event into every cached view of the job. */
export function applyJobEvent(qc: QueryClient, ev: WatchEvent): void {
  jobEventLog.record(ev);
  qc.setQueryData<MultiEdgeInference[]>(queryKeys.jobs, (old) => (old ? applyEventToList(old, ev) : old));
  const key = queryKeys.job(ev.object.metadata.namespace, ev.object.metadata.name);
  if (qc.getQueryData(key) !== undefined) qc.setQueryData(key, applyEventToJob(ev));
}

export type LiveStatus = 'connecting' | 'live' | 'offline';

/**
 * Subscribes to job watch events on the /ui namespace and applies them to the query cache, so lists and
 * details update without polling. After each (re)connect the cache is refetched once (events may have been missed).
 */
export function useJobEvents(namespace?: string): { status: LiveStatus; error?: string } {
  const qc = useQueryClient();
  const [status, setStatus] = useState<LiveStatus>('connecting');
  const [error, setError] = useState<string>();
  useEffect(() => {
    const socket = acquireUiSocket();
    const subscribe = (resync: boolean) => {
      socket.emit('jobs:subscribe', namespace ? { namespace } : {}, (ack) => {
        if (ack && !ack.ok) return setError(ack.error);
        setError(undefined);
        // The server only sends changes from now on: whatever changed before the subscription took effect
        // (page load racing the handshake, or a disconnect) is fetched once more.
        if (resync) void qc.invalidateQueries({ queryKey: ['jobs'] });
      });
    };
    const onConnect = () => {
      setStatus('live');
      subscribe(true);
    };
    const onDisconnect = () => setStatus('offline');
    const onConnectError = (err: Error) => {
      setStatus('offline');
      setError(err.message);
    };
    const onJob = (ev: WatchEvent) => applyJobEvent(qc, ev);
    socket.on('connect', onConnect);
    socket.on('disconnect', onDisconnect);
    socket.on('connect_error', onConnectError);
    socket.on('job', onJob);
    // Already connected (another page subscribed): joining the room again is idempotent, nothing was missed.
    if (socket.connected) {
      setStatus('live');
      subscribe(false);
    }
    return () => {
      socket.off('connect', onConnect);
      socket.off('disconnect', onDisconnect);
      socket.off('connect_error', onConnectError);
      socket.off('job', onJob);
      releaseUiSocket();
    };
  }, [qc, namespace]);
  return { status, error };
}

export function useCreateJob() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (input: MultiEdgeInferenceInput) => apiFetch<MultiEdgeInference>(apiPaths.jobs, { method: 'POST', json: input }),
    onSuccess: (job) => {
      applyJobEvent(qc, { type: 'ADDED', object: job });
      qc.setQueryData(queryKeys.job(job.metadata.namespace, job.metadata.name), job);
    },
  });
}

export function useDeleteJob() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (j: { namespace: string; name: string }) => apiFetch<void>(apiPaths.job(j.namespace, j.name), { method: 'DELETE' }),
    onSuccess: () => qc.invalidateQueries({ queryKey: queryKeys.jobs }),
  });
}

export function useLogin() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (body: { username: string; password: string }) => apiFetch<Me>(apiPaths.login, { method: 'POST', json: body }),
    onSuccess: (me) => {
      // Whatever was cached belonged to the previous session.
      qc.clear();
      jobEventLog.clear();
      closeUiSocket();
      qc.setQueryData(queryKeys.me, me);
    },
  });
}

export function useLogout() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: () => apiFetch<void>(apiPaths.logout, { method: 'POST' }),
    onSettled: () => {
      closeUiSocket();
      jobEventLog.clear();
      qc.clear();
    },
  });
}

/** The current time, refreshed every `intervalMs` (for ages like "3m"). */
export function useNow(intervalMs = 10_000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(t);
  }, [intervalMs]);
  return now;
}
