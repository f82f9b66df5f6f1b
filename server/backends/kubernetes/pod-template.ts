// The Pod and Secret of one edge worker (job, node): pure functions, so the manifests can be read, tested and
// documented (docs/kubernetes.md) apart from the runtime that creates them.
//
// Names are deterministic — `<job>-<node>-<hash(job, node)>`, at most 63 characters — so a repeated or
// concurrent ensure(), or one after a server restart, finds the same objects (AlreadyExists) instead of making
// a second worker. A job re-created under the same name reuses the names: its worker waits for the old one
// to terminate, so there is never more than one agent per (job, node), as in embedded mode.
import { createHash } from 'node:crypto';
import type { V1OwnerReference, V1Pod, V1Secret, V1Toleration } from '@kubernetes/client-node';
import { jobKey, type MultiEdgeInference } from '@mei/contracts';
import { API_VERSION, CRD_KIND } from '@mei/contracts/crd';
import { templateHashOf } from '../worker-template.ts';
import { imageAllowed } from './image-policy.ts';

export const LABEL_JOB_NAME = 'sedna.io/job-name';
export const LABEL_JOB_UID = 'sedna.io/job-uid';
export const LABEL_NODE = 'sedna.io/worker-node';
/** The full node name (labels hold at most 63 characters; node names up to 253). */
export const ANNOTATION_NODE = 'sedna.io/worker-node';
/** Hash of the pod spec the pod was created from: a different hash for the job's current spec rolls the pod. */
export const ANNOTATION_TEMPLATE_HASH = 'sedna.io/template-hash';
export const MANAGED_BY = 'mei-server';
export const COMPONENT = 'edge-worker';
/** Selects every pod and secret the runtime manages. */
export const WORKER_SELECTOR = `app.kubernetes.io/managed-by=${MANAGED_BY},app.kubernetes.io/component=${COMPONENT}`;
export const EDGE_ROLE = 'node-role.kubernetes.io/edge';
export const TOKEN_KEY = 'token';
export const AGENT_CONTAINER = 'agent';
export { DEFAULT_AGENT_IMAGE } from './image-policy.ts';

export interface WorkerTemplateOptions {
  /** Image when spec.workers[] does not name one (env MEI_AGENT_IMAGE). */
  image: string;
  /** Registry prefixes spec.workers[].image may use (image-policy.ts); unset: any (tests that build Pods directly). */
  allowedImages?: readonly string[];
  /** KubeEdge: also select and tolerate node-role.kubernetes.io/edge (default true). */
  edgeNodes?: boolean;
  /** With edgeNodes: the node selector and tolerations instead of the KubeEdge defaults (MEI_EDGE_NODE_SELECTOR, MEI_EDGE_TOLERATIONS). */
  edgeNodeSelector?: Record<string, string>;
  edgeTolerations?: V1Toleration[];
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  /** How long the agent may take to stop after SIGTERM. */
  terminationGracePeriodSeconds?: number;
  /** Folders on the edge node mounted read-only as MEI_MODEL_DIR (/models) and MEI_DATA_DIR (/data). */
  hostModelDir?: string;
  hostDataDir?: string;
  /**
   * Folder on the edge node mounted read-write as the agent's MEI_AGENT_STATE_DIR (its observation spools):
   * a hostPath, so a restarted or recreated Pod on the node finds what the previous one could not send.
   * Default DEFAULT_HOST_STATE_DIR.
   */
  hostStateDir?: string;
}

/** Where agents keep their spools on an edge node unless MEI_EDGE_STATE_DIR says otherwise. */
export const DEFAULT_HOST_STATE_DIR = '/var/lib/mei/agent';

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const hash = (s: string, n: number) => createHash('sha256').update(s).digest('hex').slice(0, n);

/** A label value for `value`: itself when it is one, else a prefix plus a hash that keeps it unique. */
export function labelValue(value: string): string {
  if (value.length <= 63 && LABEL_VALUE.test(value)) return value;
  return `${value.slice(0, 54).replace(/[^A-Za-z0-9]+$/, '')}-${hash(value, 8)}`;
}

/** `<job>-<node>-<hash>`, a DNS label of at most 63 characters, unique per (job name, node). */
export function workerName(job: Pick<MultiEdgeInference, 'metadata'>, node: string): string {
  const suffix = hash(`${job.metadata.name}/${node}`, 8);
  const slug = (s: string) => s.replace(/[^a-z0-9-]+/g, '-');
  const jobPart = slug(job.metadata.name).slice(0, 30);
  const nodePart = slug(node).slice(0, 63 - 2 - suffix.length - jobPart.length);
  return `${jobPart}-${nodePart}-${suffix}`.replace(/-+/g, '-');
}

export function workerLabels(job: MultiEdgeInference, node: string): Record<string, string> {
  return {
    'app.kubernetes.io/name': 'mei-edge-agent',
    'app.kubernetes.io/instance': labelValue(job.metadata.name),
    'app.kubernetes.io/component': COMPONENT,
    'app.kubernetes.io/part-of': 'mei',
    'app.kubernetes.io/managed-by': MANAGED_BY,
    [LABEL_JOB_NAME]: labelValue(job.metadata.name),
    [LABEL_JOB_UID]: job.metadata.uid,
    [LABEL_NODE]: labelValue(node),
  };
}

/** The job owns its workers: in a cluster the garbage collector removes them with it. */
export function ownerReference(job: MultiEdgeInference): V1OwnerReference {
  return { apiVersion: API_VERSION, kind: CRD_KIND, name: job.metadata.name, uid: job.metadata.uid, controller: true, blockOwnerDeletion: true };
}

export function workerSecret(job: MultiEdgeInference, node: string, token: string): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: workerName(job, node),
      namespace: job.metadata.namespace,
      labels: workerLabels(job, node),
      annotations: { [ANNOTATION_NODE]: node },
      ownerReferences: [ownerReference(job)],
    },
    type: 'Opaque',
    // The token is bound to this job object and node and never changes; immutable spares kubelets a watch.
    immutable: true,
    stringData: { [TOKEN_KEY]: token },
  };
}

export const edgeTolerations: V1Toleration[] = [
  { key: EDGE_ROLE, operator: 'Exists', effect: 'NoSchedule' },
  { key: EDGE_ROLE, operator: 'Exists', effect: 'NoExecute' },
];

/** The worker's image: the job's choice only when the admin's allow-list admits it (a job bypassing the API). */
function workerImage(chosen: string | undefined, o: WorkerTemplateOptions): string {
  if (!chosen) return o.image;
  if (o.allowedImages && !imageAllowed(chosen, o.allowedImages)) {
    throw new Error(`spec.workers[].image: ${chosen} is not in the allowed registry prefixes (${o.allowedImages.join(', ')})`);
  }
  return chosen;
}

export function workerPod(job: MultiEdgeInference, node: string, serverUrl: string, o: WorkerTemplateOptions): V1Pod {
  const name = workerName(job, node);
  const tuning = job.spec.workers?.find((w) => w.node === node);
  const edge = o.edgeNodes ?? true;
  // The agent image runs on a read-only root as uid 10001 and writes only to /tmp (tsx's cache, scratch).
  const volumes: NonNullable<V1Pod['spec']>['volumes'] = [{ name: 'tmp', emptyDir: {} }];
  const mounts: Array<{ name: string; mountPath: string; readOnly: boolean }> = [{ name: 'tmp', mountPath: '/tmp', readOnly: false }];
  const env = [
    // Referenced as $(MEI_SERVER_URL) in args; plain value: the address is not a secret.
    { name: 'MEI_SERVER_URL', value: serverUrl },
    { name: 'MEI_AGENT_TOKEN', valueFrom: { secretKeyRef: { name, key: TOKEN_KEY } } },
    { name: 'MEI_NODE', value: node },
    { name: 'MEI_JOB', value: jobKey(job) },
  ];
  for (const [dir, mountPath, envName, volume] of [
    [o.hostModelDir, '/models', 'MEI_MODEL_DIR', 'models'],
    [o.hostDataDir, '/data', 'MEI_DATA_DIR', 'data'],
  ] as const) {
    if (!dir) continue;
    volumes.push({ name: volume, hostPath: { path: dir, type: 'Directory' } });
    mounts.push({ name: volume, mountPath, readOnly: true });
    env.push({ name: envName, value: mountPath });
  }
  // Spools per job uid and camera inside: several jobs' workers on one node share the folder safely.
  volumes.push({ name: 'state', hostPath: { path: o.hostStateDir ?? DEFAULT_HOST_STATE_DIR, type: 'DirectoryOrCreate' } });
  mounts.push({ name: 'state', mountPath: '/state', readOnly: false });
  env.push({ name: 'MEI_AGENT_STATE_DIR', value: '/state' });
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: job.metadata.namespace,
      labels: workerLabels(job, node),
      annotations: { [ANNOTATION_NODE]: node },
      ownerReferences: [ownerReference(job)],
    },
    spec: {
      // Pinned: the job names the node whose cameras this worker reads; no scheduler decision to make.
      nodeName: node,
      ...(edge ? { nodeSelector: o.edgeNodeSelector ?? { [EDGE_ROLE]: '' }, tolerations: o.edgeTolerations ?? edgeTolerations } : {}),
      // Exit 0 (history done, or told to stop) ends the worker; a crash restarts it (CrashLoopBackOff).
      restartPolicy: 'OnFailure',
      terminationGracePeriodSeconds: o.terminationGracePeriodSeconds ?? 30,
      // The agent talks to MEI only, never to the Kubernetes API.
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      containers: [
        {
          name: AGENT_CONTAINER,
          image: workerImage(tuning?.image, o),
          imagePullPolicy: o.imagePullPolicy ?? 'IfNotPresent',
          command: ['mei-agent'],
          args: ['run', '--server', '$(MEI_SERVER_URL)', '--node', node],
          env,
          ...(tuning?.resources ? { resources: tuning.resources as any } : {}),
          volumeMounts: mounts,
          securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ['ALL'] } },
        },
      ],
      volumes,
    },
  };
}

/** The template hash of a worker pod: its spec only (metadata follows from the job's name, uid and node). */
export function podTemplateHash(pod: V1Pod): string {
  return templateHashOf(pod.spec);
}

/**
 * `pod` with its template hash annotation, as the runtime creates it. Kept out of workerPod() so the manifest
 * in deploy/edge-worker.example.yaml stays the plain template.
 */
export function withTemplateHash(pod: V1Pod): V1Pod {
  return { ...pod, metadata: { ...pod.metadata, annotations: { ...pod.metadata?.annotations, [ANNOTATION_TEMPLATE_HASH]: podTemplateHash(pod) } } };
}
