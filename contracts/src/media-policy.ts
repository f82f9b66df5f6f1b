// The media policy: what a job's camera sources and model paths may open. One module for both sides:
// the control plane checks what the spec alone decides (admission, 422) and resolves the allow-listed
// placeholders; the agent checks what only the node knows (symlinks, DNS answers) before ffmpeg or
// onnxruntime opens anything, and runs ffmpeg with protocol and format allow-lists matching the scheme.
// User strings are data: no environment variable is ever expanded from them.
import { existsSync, realpathSync, statSync } from 'node:fs';
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import path from 'node:path';
import { z } from 'zod';
import type { MediaAccess } from '@mei/contracts';

export type { MediaAccess } from '@mei/contracts';

/** Admin settings (MEI_MEDIA_POLICY: a JSON file path or inline JSON). */
export interface MediaPolicy {
  /** Source schemes a job may use; a plain path counts as `file`. */
  schemes: string[];
  /** Network sources only to these: hostnames, `*.suffix` wildcards, IP addresses or CIDRs. */
  allowedHosts: string[];
  /** Loopback hosts (127.0.0.0/8, ::1, localhost) are refused unless this is set. */
  allowLoopback: boolean;
  /**
   * Media root of each namespace, relative to the data root (MEI_DATA_DIR): `{namespace}` is replaced by the
   * job's namespace; `*` is the fallback; '' (or '.') is the whole data root. Default: one folder per namespace
   * (`<data root>/<namespace>`), except `default`, the namespace of a single-user setup and of the demo job,
   * which reads the whole data root (docs/security.md says why; server start-up refuses tenants there).
   */
  namespaceRoots: Record<string, string>;
}

export const SUPPORTED_SCHEMES = ['file', 'dir', 'rtsp', 'rtsps', 'http', 'https', 'rtmp', 'rtmps', 'srt', 'udp', 'tcp'] as const;

export const DEFAULT_MEDIA_POLICY: MediaPolicy = {
  schemes: ['file', 'dir', 'rtsp', 'rtsps', 'http', 'https'],
  allowedHosts: [],
  allowLoopback: false,
  namespaceRoots: { '*': '{namespace}', default: '' },
};

/** The only placeholders a spec may use, each resolved by the control plane to the worker's root. */
export const SOURCE_PLACEHOLDER = '${MEI_DATA_DIR}';
export const MODEL_PLACEHOLDER = '${MEI_MODEL_DIR}';

/** A refusal naming the spec field (`spec.cameras[0].source`); the message never echoes file contents or env. */
export class PolicyError extends Error {
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
    this.name = 'PolicyError';
  }
}

const hostEntry = z.string().min(1).max(253).refine((h) => !/[\s/]/.test(h) || isCidr(h), 'must be a hostname, *.suffix, an IP address or a CIDR');
const PolicySchema = z
  .object({
    schemes: z.array(z.enum(SUPPORTED_SCHEMES)).max(SUPPORTED_SCHEMES.length).optional(),
    allowedHosts: z.array(hostEntry).max(1000).optional(),
    allowLoopback: z.boolean().optional(),
    namespaceRoots: z.record(z.string().max(253), z.string().max(1024).refine((r) => !r.split(/[\\/]/).includes('..') && !path.isAbsolute(r), 'must be relative to the data root, without ..')).optional(),
  })
  .strict();

/** Parses the admin's policy; throws an error naming the field (start-up refuses a bad policy). */
export function parseMediaPolicy(raw: unknown, origin = 'MEI_MEDIA_POLICY'): MediaPolicy {
  const r = PolicySchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new Error(`${origin}: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return { ...DEFAULT_MEDIA_POLICY, ...r.data, namespaceRoots: { ...DEFAULT_MEDIA_POLICY.namespaceRoots, ...r.data.namespaceRoots } };
}

/** MEI_MEDIA_POLICY as inline JSON (`{...}`) or a file holding it; the defaults when unset. */
export function mediaPolicyFromEnv(env: Record<string, string | undefined>, readFile: (p: string) => string): MediaPolicy {
  const v = env.MEI_MEDIA_POLICY?.trim();
  if (!v) return DEFAULT_MEDIA_POLICY;
  let text = v;
  if (!v.startsWith('{')) {
    try {
      text = readFile(v);
    } catch (e) {
      throw new Error(`MEI_MEDIA_POLICY: cannot read ${v}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(`MEI_MEDIA_POLICY: not valid JSON: ${(e as Error).message}`);
  }
  return parseMediaPolicy(raw);
}

/** What one job's workers may open: sent to them with the task. */
export function mediaAccessFor(policy: MediaPolicy, namespace: string): MediaAccess {
  const dir = (policy.namespaceRoots[namespace] ?? policy.namespaceRoots['*'] ?? '').replaceAll('{namespace}', namespace);
  return { mediaDir: dir, schemes: policy.schemes, allowedHosts: policy.allowedHosts, allowLoopback: policy.allowLoopback };
}

/**
 * The node's data and model roots: placed in the worker's launch config by the control plane (embedded:
 * local-processes.ts, Kubernetes: the Pod's mounts). Only these two fixed names are read, never a name
 * taken from a spec.
 */
export interface NodeRoots {
  data?: string;
  models?: string;
}
export const nodeRootsFromEnv = (env: Record<string, string | undefined>): NodeRoots => ({ data: env.MEI_DATA_DIR || undefined, models: env.MEI_MODEL_DIR || undefined });

// ---- what the spec alone decides (admission) -------------------------------------------------------

const PLACEHOLDER_RE = /\$\{([^}]*)\}?/g;

function checkPlaceholders(value: string, allowed: string | undefined, field: string): void {
  for (const m of value.matchAll(PLACEHOLDER_RE)) {
    if (m[0] !== allowed) throw new PolicyError(field, allowed ? `only ${allowed} may be used; environment variables are not expanded` : 'environment variables are not expanded');
  }
  if (allowed && value.includes(allowed) && !value.startsWith(allowed)) throw new PolicyError(field, `${allowed} may only start the path`);
}

/** `..` segments, NUL bytes and backslashes, also when percent-encoded. */
function checkPathText(p: string, field: string): void {
  let decoded = p;
  try {
    decoded = decodeURIComponent(p);
  } catch {
    throw new PolicyError(field, 'malformed percent-encoding');
  }
  for (const v of [p, decoded]) {
    if (v.includes('\0')) throw new PolicyError(field, 'contains a NUL byte');
    if (v.split(/[\\/]/).includes('..')) throw new PolicyError(field, "must not contain '..' segments");
  }
}

/** Addresses never opened, whatever the policy: link-local (cloud metadata lives there), unspecified, multicast. */
const NEVER = new BlockList();
NEVER.addSubnet('169.254.0.0', 16, 'ipv4');
NEVER.addSubnet('0.0.0.0', 8, 'ipv4');
NEVER.addSubnet('224.0.0.0', 4, 'ipv4');
NEVER.addSubnet('255.255.255.255', 32, 'ipv4');
NEVER.addAddress('100.100.100.200', 'ipv4'); // Alibaba Cloud metadata
NEVER.addSubnet('fe80::', 10, 'ipv6');
NEVER.addSubnet('ff00::', 8, 'ipv6');
NEVER.addAddress('::', 'ipv6');
NEVER.addAddress('fd00:ec2::254', 'ipv6'); // AWS metadata over IPv6
const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');
const METADATA_NAMES = /^(metadata|metadata\.google\.internal|metadata\.goog|instance-data(\.ec2\.internal)?)\.?$/i;

function isCidr(s: string): boolean {
  const [ip, bits, extra] = s.split('/');
  const v = isIP(ip);
  return extra === undefined && v !== 0 && /^\d{1,3}$/.test(bits ?? '') && Number(bits) <= (v === 4 ? 32 : 128);
}

/** IPv4-mapped IPv6 (::ffff:a.b.c.d) checked as the IPv4 address it is. */
function unmap(ip: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return m ? m[1] : ip;
}
const family = (ip: string) => (isIP(ip) === 6 ? 'ipv6' : 'ipv4');

/** Why an address may not be opened, or undefined. */
export function addressRefusal(ipIn: string, access: Pick<MediaAccess, 'allowedHosts' | 'allowLoopback'>, hostMatched: boolean): string | undefined {
  const ip = unmap(ipIn);
  if (NEVER.check(ip, family(ip))) return 'link-local, metadata, multicast and unspecified addresses are never allowed';
  if (LOOPBACK.check(ip, family(ip))) return access.allowLoopback ? undefined : 'loopback addresses are not allowed by the media policy';
  if (hostMatched) return undefined;
  const allowed = access.allowedHosts.some((h) => {
    if (isCidr(h)) {
      const [net, bits] = h.split('/');
      const b = new BlockList();
      b.addSubnet(net, Number(bits), family(net));
      return isIP(ip) !== 0 && family(ip) === family(net) && b.check(ip, family(ip));
    }
    return isIP(h) !== 0 && unmap(h) === ip;
  });
  return allowed ? undefined : 'host is not in the media policy allowedHosts';
}

/** A host name (not an address) matches a hostname or `*.suffix` entry. */
function hostnameAllowed(host: string, allowedHosts: string[]): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  return allowedHosts.some((e) => {
    const x = e.toLowerCase();
    if (isIP(x) || isCidr(x)) return false;
    return x.startsWith('*.') ? h.endsWith(x.slice(1)) && h.length > x.length - 1 : h === x;
  });
}

/**
 * The host of a network URL as the resolver will read it: WHATWG rules turn `2852039166`, `0xA9.0xFE...`
 * and `0251.0376...` into dotted IPv4, and drop IPv6 brackets.
 */
export function normalizeHost(rawHost: string): string {
  let host = rawHost;
  try {
    host = new URL(`http://${rawHost}/`).hostname;
  } catch {
    throw new Error('malformed host');
  }
  return host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
}

export interface NetworkTarget {
  scheme: string;
  host: string;
  /** The host matched a name entry of allowedHosts (its addresses then only need to pass the fixed rules). */
  nameMatched: boolean;
}

/** Checks a network source's scheme, host and options; returns the host to resolve at run time. */
function checkNetworkSource(url: string, scheme: string, access: Pick<MediaAccess, 'allowedHosts' | 'allowLoopback'>, field: string): NetworkTarget {
  const m = /^[a-z][a-z0-9+.-]*:\/\/(?:[^@/?#]*@)?(\[[^\]]*\]|[^:/?#]*)(?::(\d{1,5}))?(?:[/?#]|$)/i.exec(url);
  if (!m || m[1] === '') throw new PolicyError(field, `a ${scheme}:// source needs a host`);
  if (m[2] !== undefined && Number(m[2]) > 65535) throw new PolicyError(field, 'port out of range');
  let host: string;
  try {
    host = normalizeHost(m[1]);
  } catch {
    throw new PolicyError(field, 'malformed host');
  }
  // ffmpeg reads options from some URLs' query (tcp/udp `listen`, `localport`): a source never serves.
  if (/[?&](listen|localport|localaddr|reuse)=/i.test(url)) throw new PolicyError(field, 'listening or binding options are not allowed in a source URL');
  if (METADATA_NAMES.test(host)) throw new PolicyError(field, 'cloud metadata hosts are never allowed');
  if (host === 'localhost' || host.endsWith('.localhost')) {
    if (!access.allowLoopback) throw new PolicyError(field, 'loopback addresses are not allowed by the media policy');
    return { scheme, host, nameMatched: true };
  }
  if (isIP(host)) {
    const why = addressRefusal(host, access, false);
    if (why) throw new PolicyError(field, why);
    return { scheme, host, nameMatched: false };
  }
  const nameMatched = hostnameAllowed(host, access.allowedHosts);
  // A name passes admission when it is listed or when CIDRs may admit its addresses (checked on the node).
  if (!nameMatched && !access.allowedHosts.some(isCidr)) throw new PolicyError(field, 'host is not in the media policy allowedHosts');
  return { scheme, host, nameMatched };
}

export type SourceCheck = { kind: 'path'; scheme: 'file' | 'dir'; path: string } | ({ kind: 'network'; url: string } & NetworkTarget);

/**
 * A `${MEI_DATA_DIR}/…` path outside the job's media folder is refused from the text alone (admission); any
 * other path is confined on the node (relative paths start in the folder, symlinks are followed there).
 */
export function checkMediaDirText(p: string, mediaDir: string, field: string): void {
  if (!p.startsWith(SOURCE_PLACEHOLDER)) return;
  const dir = path.posix.normalize(mediaDir || '.').replace(/(?<=.)\/+$/, '');
  if (dir === '.') return;
  const rel = path.posix.normalize(p.slice(SOURCE_PLACEHOLDER.length).replace(/^\/+/, '') || '.');
  if (rel === dir || rel.startsWith(`${dir}/`)) return;
  throw new PolicyError(field, `${p} is outside this namespace's media folder (${SOURCE_PLACEHOLDER}/${dir}/; relative paths start there)`);
}

/**
 * Everything the spec alone decides about a camera source. `source` may still hold ${MEI_DATA_DIR} (admission)
 * or be resolved (agent). Throws PolicyError naming `field`.
 */
export function checkSourceText(sourceIn: string, access: Pick<MediaAccess, 'schemes' | 'allowedHosts' | 'allowLoopback'>, field: string): SourceCheck {
  const source = sourceIn.trim();
  if (source === '') throw new PolicyError(field, 'source is empty');
  if (/[\0\r\n]/.test(source)) throw new PolicyError(field, 'must not contain control characters');
  const explicit = /^([a-z][a-z0-9+.-]*):\/\//i.exec(source)?.[1]?.toLowerCase();
  // `subfile:`, `concat:`, `data:` and other ffmpeg pseudo-protocols without `//` would otherwise be read as paths.
  const bare = /^([a-z][a-z0-9+.-]{1,}):/i.exec(source)?.[1]?.toLowerCase();
  if (!explicit && bare) throw new PolicyError(field, `'${bare}:' sources are not supported (use a path, file://, dir://, rtsp:// or http(s)://)`);
  const scheme = explicit ?? 'file';
  if (!(SUPPORTED_SCHEMES as readonly string[]).includes(scheme)) throw new PolicyError(field, `unsupported source scheme '${scheme}://'`);
  if (!access.schemes.includes(scheme)) throw new PolicyError(field, `scheme '${scheme}://' is not allowed by the media policy (allowed: ${access.schemes.join(', ')})`);
  if (scheme === 'file' || scheme === 'dir') {
    const p = explicit ? source.slice(`${scheme}://`.length).replace(/^localhost(?=\/)/i, '') : source;
    checkPlaceholders(p, SOURCE_PLACEHOLDER, field);
    if (explicit && !p.startsWith('/') && !p.startsWith(SOURCE_PLACEHOLDER)) throw new PolicyError(field, `${scheme}:// needs an absolute path (${scheme}:///path)`);
    if (/[?#]/.test(p) && explicit) throw new PolicyError(field, `${scheme}:// takes no query or fragment`);
    checkPathText(p, field);
    return { kind: 'path', scheme, path: explicit ? decodeURIComponent(p) : p };
  }
  checkPlaceholders(source, undefined, field);
  return { kind: 'network', url: source, ...checkNetworkSource(source, scheme, access, field) };
}

/** Model paths: relative to the model root or starting with ${MEI_MODEL_DIR}; no scheme, no `..`. */
export function checkModelPathText(p: string, field: string): void {
  if (p.trim() === '') throw new PolicyError(field, 'path is empty');
  if (/[\0\r\n]/.test(p)) throw new PolicyError(field, 'must not contain control characters');
  checkPlaceholders(p, MODEL_PLACEHOLDER, field);
  if (/^[a-z][a-z0-9+.-]+:/i.test(p)) throw new PolicyError(field, 'a model path is a file path, not a URL');
  checkPathText(p, field);
}

/** A leading allow-listed placeholder replaced by its root; the text is checked before (no other `${`). */
function resolvePlaceholder(value: string, placeholder: string, root: string | undefined, field: string): string {
  if (!value.startsWith(placeholder)) return value;
  if (!root) throw new PolicyError(field, `${placeholder} is not configured on this node`);
  return path.join(root, value.slice(placeholder.length) || '.');
}

// ---- what only the node knows (agent, before opening) ----------------------------------------------

/** `p` (absolute) resolved through symlinks lies inside `root` (also resolved). */
function insideRoot(real: string, rootReal: string): boolean {
  const rel = path.relative(rootReal, real);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

function realRoot(root: string | undefined, field: string, what: string): string {
  if (!root) throw new PolicyError(field, `no ${what} root is configured on this node`);
  try {
    return realpathSync(root);
  } catch {
    throw new PolicyError(field, `the ${what} root of this node does not exist`);
  }
}

/**
 * A path the job may open: relative paths are taken from `root`; the result, with every symlink resolved,
 * must lie inside `root`. Returns the real path. Names only the path the user wrote, never file contents.
 */
export function confinePath(p: string, root: string | undefined, field: string, what: 'media' | 'model'): string {
  const rootReal = realRoot(root, field, what);
  const abs = path.isAbsolute(p) ? path.normalize(p) : path.join(rootReal, p);
  let real: string;
  try {
    real = realpathSync(abs);
  } catch {
    // Not there: refuse outside paths first, so a missing file outside the root says "outside".
    if (!insideRoot(path.resolve(abs), rootReal) && !insideRoot(path.resolve(abs), path.resolve(root!))) throw new PolicyError(field, `${p} is outside the ${what} root of this job`);
    throw new PolicyError(field, `${what === 'media' ? 'video file' : 'model file'} not found: ${p}`);
  }
  if (!insideRoot(real, rootReal)) throw new PolicyError(field, `${p} is outside the ${what} root of this job (symlinks are followed)`);
  return real;
}

/** Resolves a network source's host on this node and checks every address (DNS may point anywhere). */
export async function checkResolvedHost(target: NetworkTarget, access: Pick<MediaAccess, 'allowedHosts' | 'allowLoopback'>, field: string, resolve = lookup): Promise<void> {
  let addrs: { address: string }[];
  if (isIP(target.host)) addrs = [{ address: target.host }];
  else {
    try {
      addrs = await resolve(target.host, { all: true, verbatim: true });
    } catch {
      throw new PolicyError(field, 'host name does not resolve');
    }
  }
  for (const a of addrs) {
    const why = addressRefusal(a.address, access, target.nameMatched);
    if (why) throw new PolicyError(field, `host resolves to a refused address: ${why}`);
  }
}

/**
 * Checks a task's camera source on this node and returns what to open: a real path inside the job's media
 * folder (relative paths start there; ${MEI_DATA_DIR} is the node's data root), or the checked URL.
 */
export async function confineSource(source: string, access: MediaAccess, roots: NodeRoots, field: string, resolve = lookup): Promise<string> {
  const c = checkSourceText(source, access, field);
  if (c.kind === 'network') {
    await checkResolvedHost(c, access, field, resolve);
    return c.url;
  }
  const mediaRoot = roots.data ? path.join(roots.data, access.mediaDir) : undefined;
  // Say which folder is missing: with one folder per namespace, an operator must create it on the node.
  if (mediaRoot && access.mediaDir && !existsSync(mediaRoot) && existsSync(roots.data!))
    throw new PolicyError(field, `this namespace's media folder (${SOURCE_PLACEHOLDER}/${access.mediaDir}) does not exist on this node`);
  const real = confinePath(resolvePlaceholder(c.path, SOURCE_PLACEHOLDER, roots.data, field), mediaRoot, field, 'media');
  if (c.scheme === 'dir' && !statSync(real).isDirectory()) throw new PolicyError(field, `${c.path} is not a folder`);
  return c.scheme === 'dir' ? `dir://${real}` : real;
}

/** A model path from the task, confined to the model root. */
export function confineModelPath(p: string, roots: NodeRoots, field: string): string {
  checkModelPathText(p, field);
  const real = confinePath(resolvePlaceholder(p.trim(), MODEL_PLACEHOLDER, roots.models, field), roots.models, field, 'model');
  if (!statSync(real).isFile()) throw new PolicyError(field, `${p} is not a file`);
  return real;
}

// ---- ffmpeg ------------------------------------------------------------------------------------------

/** Demuxers for recorded files and network streams: no playlists (hls, dash), concat, sdp or tee that open more inputs. */
const VIDEO_FORMATS = 'avi,mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,mpegts,mpeg,flv,live_flv,mjpeg,mpjpeg,h264,hevc,asf,ogg,nut';
const PROTOCOLS: Record<string, string> = {
  file: 'file',
  rtsp: 'rtsp,rtp,udp,tcp',
  rtsps: 'rtsp,rtsps,rtp,udp,tcp,tls',
  http: 'http,tcp',
  https: 'https,tls,tcp',
  rtmp: 'rtmp,tcp',
  rtmps: 'rtmps,tls,tcp',
  srt: 'srt,udp',
  udp: 'udp',
  tcp: 'tcp',
};

/** `-protocol_whitelist` and `-format_whitelist` input options for a source of this kind and scheme. */
export function ffmpegAllowLists(kind: 'file' | 'images' | 'stream', scheme = 'file'): string[] {
  const formats = kind === 'images' ? 'image2' : scheme === 'rtsp' || scheme === 'rtsps' ? `rtsp,${VIDEO_FORMATS}` : VIDEO_FORMATS;
  return ['-protocol_whitelist', kind === 'stream' ? (PROTOCOLS[scheme] ?? scheme) : 'file', '-format_whitelist', formats];
}

/** The media access an agent assumes when its task carries none (a server from before the policy): the defaults. */
export const DEFAULT_ACCESS: MediaAccess = mediaAccessFor(DEFAULT_MEDIA_POLICY, 'default');

interface ModelPaths {
  detector: { path?: string };
  reid?: { path?: string };
}

/**
 * One camera of a task made safe to open: its source and the task's model paths confined by `access`
 * (real paths in, so nothing the checks saw can be re-read differently). Throws PolicyError naming the field.
 */
export async function confineCamera<C extends { source: string }, M extends ModelPaths>(
  camera: C,
  models: M,
  access: MediaAccess,
  roots: NodeRoots,
  cameraField: string,
  resolve = lookup,
): Promise<{ camera: C; models: M }> {
  const source = await confineSource(camera.source, access, roots, `${cameraField}.source`, resolve);
  const confined = { ...models };
  if (models.detector.path) confined.detector = { ...models.detector, path: confineModelPath(models.detector.path, roots, 'spec.models.detector.path') };
  if (models.reid?.path) confined.reid = { ...models.reid, path: confineModelPath(models.reid.path, roots, 'spec.models.reid.path') };
  return { camera: { ...camera, source }, models: confined };
}
