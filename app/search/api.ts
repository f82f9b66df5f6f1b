'use client';
// Server state of the history and search pages (TanStack Query over the search API in contracts/api.ts).
import { useMutation, useQuery } from '@tanstack/react-query';
import { apiPaths, type FindTrackRequest, type PersonSearchResponse, type SearchFilters, type TrackDetail, type TrackList, type TracksPerHour } from '@mei/contracts';
import { apiFetch } from '@/app/lib/http';

/** The history page's filter: the search API's filters without the result limit. */
export type TrackFilter = Omit<SearchFilters, 'limit'>;

export function useTracks(jobKey: string, f: TrackFilter, before?: string) {
  const q = new URLSearchParams({ job: jobKey, limit: '200' });
  if (f.cameras?.length) q.set('camera', f.cameras.join(','));
  if (f.fromMs !== undefined) q.set('from', String(f.fromMs));
  if (f.toMs !== undefined) q.set('to', String(f.toMs));
  if (before) q.set('before', before);
  return useQuery({ queryKey: ['history', 'tracks', q.toString()], queryFn: () => apiFetch<TrackList>(`${apiPaths.tracks}?${q}`), staleTime: 5_000 });
}

/** Tracks started per hour and camera (the history page's chart); refreshed every minute. */
export function useTracksPerHour(jobKey: string) {
  const q = new URLSearchParams({ job: jobKey });
  return useQuery({ queryKey: ['history', 'hourly', jobKey], queryFn: () => apiFetch<TracksPerHour>(`${apiPaths.tracksPerHour}?${q}`), refetchInterval: 60_000 });
}

export function useTrackDetail(id: string | undefined) {
  return useQuery({ queryKey: ['history', 'track', id], queryFn: () => apiFetch<TrackDetail>(apiPaths.track(id!)), enabled: !!id, staleTime: 60_000 });
}

export interface ImageQuery extends TrackFilter {
  job: string;
  image: File;
  detect: boolean;
  limit?: number;
}

export function useImageSearch() {
  return useMutation({
    mutationFn: (q: ImageQuery) => {
      const form = new FormData();
      form.set('image', q.image);
      form.set('job', q.job);
      form.set('detect', String(q.detect));
      if (q.cameras?.length) form.set('cameras', q.cameras.join(','));
      if (q.fromMs !== undefined) form.set('from', String(q.fromMs));
      if (q.toMs !== undefined) form.set('to', String(q.toMs));
      if (q.limit) form.set('limit', String(q.limit));
      // No content-type header: the browser sets multipart/form-data with its boundary.
      return apiFetch<PersonSearchResponse>(apiPaths.searchImage, { method: 'POST', body: form });
    },
  });
}

export function useTrackSearch() {
  return useMutation({ mutationFn: (q: FindTrackRequest) => apiFetch<PersonSearchResponse>(apiPaths.searchTrack, { method: 'POST', json: q }) });
}
