// How the dashboard folds Socket.IO job watch events into its cached list and details.
import { describe, expect, it } from 'vitest';
import type { MultiEdgeInference, WatchEvent } from '@mei/contracts';
import { JobEventLog, applyEventToList } from '../../app/lib/jobCache.ts';
import { loginUrlFor, safeNextPath } from '../../app/lib/http.ts';

function job(name: string, phase: 'Pending' | 'Running' = 'Pending', namespace = 'default'): MultiEdgeInference {
  return {
    apiVersion: 'sedna.io/v1alpha1',
    kind: 'MultiEdgeInference',
    metadata: { name, namespace, uid: `${namespace}-${name}`, resourceVersion: '1', generation: 1, creationTimestamp: '2025-01-01T00:00:00Z' },
    spec: { cameras: [{ name: 'c', node: 'n', source: 's' }], models: { detector: { decoder: 'yolox' } } },
    status: { phase },
  };
}
const ev = (type: WatchEvent['type'], object: MultiEdgeInference): WatchEvent => ({ type, object });
const names = (l: MultiEdgeInference[]) => l.map((j) => `${j.metadata.namespace}/${j.metadata.name}:${j.status?.phase}`);

describe('job cache', () => {
  it('upserts ADDED/MODIFIED in namespace/name order and drops DELETED', () => {
    let list = [job('b')];
    list = applyEventToList(list, ev('ADDED', job('a', 'Pending', 'zz')));
    list = applyEventToList(list, ev('ADDED', job('a')));
    list = applyEventToList(list, ev('MODIFIED', job('b', 'Running')));
    expect(names(list)).toEqual(['default/a:Pending', 'default/b:Running', 'zz/a:Pending']);
    list = applyEventToList(list, ev('DELETED', job('a')));
    expect(names(list)).toEqual(['default/b:Running', 'zz/a:Pending']);
  });

  it('keeps events that arrived while a GET was in flight over the older GET answer', () => {
    const log = new JobEventLog();
    log.record(ev('ADDED', job('old'))); // before the GET: the GET's answer already includes it
    const since = log.mark();
    log.record(ev('MODIFIED', job('x', 'Running')));
    log.record(ev('DELETED', job('gone')));
    const fetched = [job('x', 'Pending'), job('gone'), job('old', 'Running')];
    expect(names(log.mergeList(since, fetched))).toEqual(['default/old:Running', 'default/x:Running']);
    expect(log.mergeJob(since, 'default', 'x', job('x', 'Pending'))?.status?.phase).toBe('Running');
    expect(log.mergeJob(since, 'default', 'gone', job('gone'))).toBeNull();
    expect(log.mergeJob(log.mark(), 'default', 'x', job('x', 'Pending'))?.status?.phase).toBe('Pending');
  });

  it('sends users back only to same-site paths after sign-in', () => {
    expect(safeNextPath('/jobs/default/a?x=1')).toBe('/jobs/default/a?x=1');
    for (const bad of [null, '', 'https://evil.example', '//evil.example', '/\\evil.example', '/login?next=/']) expect(safeNextPath(bad)).toBe('/');
    expect(loginUrlFor('/jobs/new')).toBe('/login?next=%2Fjobs%2Fnew');
  });
});
