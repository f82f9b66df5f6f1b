// Kubernetes-mode settings from the environment (server/backends/kubernetes/config.ts): the namespaces the server manages
// and the worker pods' placement; bad values fail at startup naming the variable.
import { describe, expect, it } from 'vitest';
import { kubernetesSettings, parseNamespaces } from '../../server/backends/kubernetes/config.ts';

describe('MEI_NAMESPACES', () => {
  it('unset, empty or "*" means every namespace; a list is deduplicated', () => {
    for (const raw of [undefined, '', '  ', '*']) expect(parseNamespaces(raw)).toBeUndefined();
    expect(parseNamespaces('default, plant-a plant-a,,b')).toEqual(['default', 'plant-a', 'b']);
  });

  it('names the variable and the bad entry', () => {
    for (const bad of ['Default', 'a_b', '-x', 'x'.repeat(64), 'a,*']) expect(() => parseNamespaces(bad)).toThrow(/^MEI_NAMESPACES must list namespace names/);
  });
});

describe('worker placement', () => {
  it('defaults to KubeEdge (none set here: pod-template adds the edge label and taint)', () => {
    const s = kubernetesSettings({});
    expect([s.edgeNodeSelector, s.edgeTolerations, s.namespaces, s.leaseName]).toEqual([undefined, undefined, undefined, 'mei-server']);
  });

  it('takes a node selector and tolerations as JSON', () => {
    const s = kubernetesSettings({
      MEI_EDGE_NODE_SELECTOR: '{"site":"plant-1"}',
      MEI_EDGE_TOLERATIONS: '[{"key":"edge","operator":"Exists","effect":"NoSchedule"}]',
      MEI_LEASE_NAME: 'mei-prod',
      MEI_NAMESPACES: 'plant-1',
    });
    expect(s).toMatchObject({ edgeNodeSelector: { site: 'plant-1' }, edgeTolerations: [{ key: 'edge', operator: 'Exists', effect: 'NoSchedule' }], leaseName: 'mei-prod', namespaces: ['plant-1'] });
  });

  it('refuses what is not JSON or not the right shape, naming the variable', () => {
    expect(() => kubernetesSettings({ MEI_EDGE_NODE_SELECTOR: '{site: 1' })).toThrow(/^MEI_EDGE_NODE_SELECTOR must be JSON/);
    expect(() => kubernetesSettings({ MEI_EDGE_NODE_SELECTOR: '{"site":1}' })).toThrow(/^MEI_EDGE_NODE_SELECTOR must be an object of label names to string values/);
    expect(() => kubernetesSettings({ MEI_EDGE_TOLERATIONS: '{"key":"x"}' })).toThrow(/^MEI_EDGE_TOLERATIONS must be an array of tolerations/);
    expect(() => kubernetesSettings({ MEI_EDGE_TOLERATIONS: '[{"key":"x","colour":"red"}]' })).toThrow(/^MEI_EDGE_TOLERATIONS must be an array/);
  });
});
