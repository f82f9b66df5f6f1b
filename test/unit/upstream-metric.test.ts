import { describe, expect, it } from 'vitest';
import type { MultiEdgeInference } from '@mei/contracts';
import { setJobSource } from '../../server/observability/job-metrics.ts';
import { registry } from '../../server/observability/metrics.ts';

describe('mei_camera_upstream_bytes_per_second (job status -> Prometheus)', () => {
  it('exports each camera’s reported upstream bytes/s with the job and camera labels', async () => {
    const job = {
      metadata: { namespace: 'ns', name: 'j' },
      spec: { cameras: [] },
      status: { cameras: [{ name: 'a', upstreamBytesPerSecond: 1234 }, { name: 'b' }] },
    } as unknown as MultiEdgeInference;
    setJobSource({ list: () => [job] });
    try {
      const text = await registry.metrics();
      expect(text).toContain('mei_camera_upstream_bytes_per_second{job_namespace="ns",job_name="j",camera="a"} 1234');
      expect(text).not.toContain('mei_camera_upstream_bytes_per_second{job_namespace="ns",job_name="j",camera="b"}');
    } finally {
      setJobSource(undefined);
    }
  });
});
