// The media policy (contracts/src/media-policy.ts): property-based cases over generated sources and
// model paths (env references, `..`, percent-encoding, symlinks out of the root, protocol tricks, numeric and
// mapped hosts), on real files and symlinks, asserting that whatever is accepted lies inside the policy; real
// ffmpeg refusing an HLS playlist that points at file:, from disk and over HTTP; and admission (422).
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadJobSchema } from '@mei/contracts/crd';
import {
  checkSourceText,
  confineModelPath,
  confineSource,
  DEFAULT_MEDIA_POLICY,
  ffmpegAllowLists,
  mediaAccessFor,
  parseMediaPolicy,
  PolicyError,
  type MediaAccess,
} from '@mei/contracts/media-policy';
import { findFfmpeg } from '../../edge-agent/src/sources/ffmpeg.ts';
import { inputArgs } from '../../edge-agent/src/sources/ffmpeg.ts';
import { parseSource } from '../../edge-agent/src/sources/uri.ts';
import { demoJob } from '../../server/demo-job.ts';
import { admitUserJob, admissionPolicyFromEnv, sharedMediaRootError } from '../../server/admission/user-job.ts';
import { seededRandom } from '../support/random.ts';

const CASES = 3000;
let root: string;
let data: string;
let models: string;
let outside: string;

beforeAll(() => {
  root = realpathSync(mkdtempSync(path.join(tmpdir(), 'mei-policy-')));
  data = path.join(root, 'data');
  models = path.join(root, 'models');
  outside = path.join(root, 'outside');
  for (const d of [`${data}/team-a/sub`, `${data}/team-b`, models, outside]) mkdirSync(d, { recursive: true });
  for (const f of ['team-a/ok.avi', 'team-a/sub/ok2.avi', 'team-b/secret.avi', 'shared.avi']) writeFileSync(path.join(data, f), 'video');
  writeFileSync(path.join(outside, 'secret.avi'), 'outside');
  writeFileSync(path.join(models, 'm.onnx'), 'model');
  writeFileSync(path.join(outside, 'm.onnx'), 'model');
  symlinkSync(path.join(outside, 'secret.avi'), path.join(data, 'team-a', 'link.avi'));
  symlinkSync(outside, path.join(data, 'team-a', 'dirlink'));
  symlinkSync(path.join(data, 'team-b'), path.join(data, 'team-a', 'teamb'));
  symlinkSync(path.join(data, 'team-a', 'ok.avi'), path.join(data, 'team-a', 'inner.avi'));
  symlinkSync(path.join(outside, 'm.onnx'), path.join(models, 'out.onnx'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const pick = <T>(rnd: () => number, xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
const inside = (p: string, dir: string) => {
  const rel = path.relative(dir, p);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
};

describe('media policy: file sources (generated paths on real files and symlinks)', () => {
  it(`${CASES} generated sources: every accepted one is a real path inside the job's media folder`, async () => {
    const rnd = seededRandom(12);
    const access = mediaAccessFor(parseMediaPolicy({ namespaceRoots: { '*': '{namespace}' } }), 'team-a');
    const roots = { data, models };
    const prefixes = ['', '', 'file://', 'dir://', '${MEI_DATA_DIR}/', '${MEI_DATA_DIR}/team-a/', 'file://${MEI_DATA_DIR}/', '${HOME}/', '${MEI_SECRET}', '$HOME/', '${MEI_DATA_DIR', `${data}/`, `${data}/team-a/`, `${outside}/`, '/etc/', 'file:///etc/', 'subfile:', 'concat:', ' ', '~/'];
    const parts = ['ok.avi', 'sub', 'ok2.avi', 'link.avi', 'dirlink', 'secret.avi', 'teamb', 'inner.avi', 'team-a', 'team-b', '..', '%2e%2e', '%2E%2E', '.', '', 'passwd', '%00', '..%2f', '\\..', 'shared.avi'];
    let accepted = 0;
    const reasons = new Map<string, number>();
    for (let i = 0; i < CASES; i++) {
      const n = 1 + Math.floor(rnd() * 4);
      const source = pick(rnd, prefixes) + Array.from({ length: n }, () => pick(rnd, parts)).join(pick(rnd, ['/', '/', '//']));
      try {
        const got = await confineSource(source, access, roots, 'spec.cameras[0].source');
        accepted++;
        const real = got.startsWith('dir://') ? got.slice('dir://'.length) : got;
        expect(inside(real, path.join(data, 'team-a')), `${source} -> ${got}`).toBe(true);
        expect(realpathSync(real)).toBe(real);
      } catch (e) {
        expect(e, source).toBeInstanceOf(PolicyError);
        const err = e as PolicyError;
        expect(err.field).toBe('spec.cameras[0].source');
        // Refusals never echo what is outside: no env value, no file contents.
        expect(err.message).not.toContain('outside\n');
        expect(err.message).not.toContain(process.env.HOME ?? '\0');
        reasons.set(err.reason.replace(/:.*$/, '').slice(0, 40), (reasons.get(err.reason.replace(/:.*$/, '').slice(0, 40)) ?? 0) + 1);
      }
    }
    // The generator reaches both sides: plenty accepted, and every refusal kind above.
    expect(accepted).toBeGreaterThan(20);
    expect(accepted).toBeLessThan(CASES);
  });

  it('the named tricks, one by one', async () => {
    const access = mediaAccessFor(parseMediaPolicy({ namespaceRoots: { '*': '{namespace}' } }), 'team-a');
    const roots = { data, models };
    const refuse = async (source: string, why: RegExp) => {
      await expect(confineSource(source, access, roots, 'f'), source).rejects.toThrow(why);
    };
    await refuse('/${MEI_SECRET}', /environment variables are not expanded/);
    await refuse('${HOME}/x.avi', /only \$\{MEI_DATA_DIR\}/);
    await refuse('team-a/../team-b/secret.avi', /'\.\.'/);
    await refuse('%2e%2e/team-b/secret.avi', /'\.\.'/);
    await refuse('link.avi', /outside the media root.*symlinks/);
    await refuse('dirlink/secret.avi', /outside the media root/);
    await refuse('teamb/secret.avi', /outside the media root/);
    await refuse('${MEI_DATA_DIR}/team-b/secret.avi', /outside the media root/);
    await refuse(`${outside}/secret.avi`, /outside the media root/);
    await refuse('subfile:,,start,0,end,0,,:/etc/passwd', /not supported/);
    await refuse('concat:/etc/passwd|x', /not supported/);
    await refuse('file:///etc/passwd', /outside the media root/);
    await refuse('gopher://10.0.0.1/', /unsupported source scheme/);
    await expect(confineSource('inner.avi', access, roots, 'f')).resolves.toBe(path.join(data, 'team-a', 'ok.avi'));
    await expect(confineSource('${MEI_DATA_DIR}/team-a/sub/ok2.avi', access, roots, 'f')).resolves.toBe(path.join(data, 'team-a', 'sub', 'ok2.avi'));
    await expect(confineSource('dir://${MEI_DATA_DIR}/team-a/sub', access, roots, 'f')).resolves.toBe(`dir://${path.join(data, 'team-a', 'sub')}`);
  });

  it('the default policy: one folder per namespace; `default` (single user, the demo job) reads the whole data root, still nothing outside it', async () => {
    const roots = { data, models };
    const teamA = mediaAccessFor(DEFAULT_MEDIA_POLICY, 'team-a');
    expect(teamA.mediaDir).toBe('team-a');
    await expect(confineSource('ok.avi', teamA, roots, 'f')).resolves.toBe(path.join(data, 'team-a', 'ok.avi'));
    await expect(confineSource('${MEI_DATA_DIR}/team-a/ok.avi', teamA, roots, 'f')).resolves.toBe(path.join(data, 'team-a', 'ok.avi'));
    await expect(confineSource('${MEI_DATA_DIR}/shared.avi', teamA, roots, 'f')).rejects.toThrow(/outside the media root/);
    await expect(confineSource(path.join(data, 'team-b', 'secret.avi'), teamA, roots, 'f')).rejects.toThrow(/outside the media root/);
    await expect(confineSource('teamb/secret.avi', teamA, roots, 'f')).rejects.toThrow(/outside the media root/);
    // A namespace without a folder on this node reads nothing.
    await expect(confineSource('ok.avi', mediaAccessFor(DEFAULT_MEDIA_POLICY, 'team-c'), roots, 'f')).rejects.toThrow("f: this namespace's media folder (${MEI_DATA_DIR}/team-c) does not exist on this node");
    const single = mediaAccessFor(DEFAULT_MEDIA_POLICY, 'default');
    expect(single.mediaDir).toBe('');
    await expect(confineSource('${MEI_DATA_DIR}/shared.avi', single, roots, 'f')).resolves.toBe(path.join(data, 'shared.avi'));
    await expect(confineSource('team-a/link.avi', single, roots, 'f')).rejects.toThrow(/outside/);
    // An admin's namespaceRoots are merged over the default ('*' and `default` stay unless named).
    expect(mediaAccessFor(parseMediaPolicy({ namespaceRoots: { 'team-a': 'shared/a' } }), 'team-a').mediaDir).toBe('shared/a');
    expect(mediaAccessFor(parseMediaPolicy({ namespaceRoots: { '*': 'tenants/{namespace}' } }), 'team-b').mediaDir).toBe('tenants/team-b');
    expect(mediaAccessFor(parseMediaPolicy({ namespaceRoots: { default: 'default' } }), 'default').mediaDir).toBe('default');
  });

  it('model paths: only inside the model root (relative, ${MEI_MODEL_DIR}, no .., no symlink out, no URL)', () => {
    const roots = { data, models };
    const rnd = seededRandom(7);
    const prefixes = ['', '${MEI_MODEL_DIR}/', '${MEI_SECRET}/', `${models}/`, `${outside}/`, 'file://', 'http://x/', '/etc/'];
    const parts = ['m.onnx', 'out.onnx', '..', '%2e%2e', 'outside', '.', 'models'];
    for (let i = 0; i < 1000; i++) {
      const p = pick(rnd, prefixes) + Array.from({ length: 1 + Math.floor(rnd() * 3) }, () => pick(rnd, parts)).join('/');
      try {
        const real = confineModelPath(p, roots, 'spec.models.detector.path');
        expect(inside(real, models), `${p} -> ${real}`).toBe(true);
        expect(real).toBe(path.join(models, 'm.onnx'));
      } catch (e) {
        expect(e, p).toBeInstanceOf(PolicyError);
        expect((e as PolicyError).field).toBe('spec.models.detector.path');
      }
    }
    expect(() => confineModelPath('out.onnx', roots, 'f')).toThrow(/outside the model root/);
    expect(() => confineModelPath('../outside/m.onnx', roots, 'f')).toThrow(/'\.\.'/);
  });
});

describe('media policy: network sources', () => {
  const access: MediaAccess = { mediaDir: '', schemes: ['rtsp', 'http', 'https', 'file'], allowedHosts: ['10.0.0.0/8', 'cam.example.com', '*.cams.example.net'], allowLoopback: false };
  // A resolver with a rebinding name: allowed by name but pointing at the metadata address.
  const dns: Record<string, string[]> = { 'cam.example.com': ['10.0.0.5'], 'evil.cams.example.net': ['169.254.169.254'], 'lan.example.org': ['10.1.1.1'], 'wan.example.org': ['93.184.216.34'], 'loop.example.org': ['127.0.0.1'] };
  const resolve = (async (host: string) => {
    const a = dns[host];
    if (!a) throw new Error('ENOTFOUND');
    return a.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  }) as never;

  it(`${CASES} generated URLs: every accepted one reaches an allowed scheme and allowed, never link-local or loopback, addresses`, async () => {
    const rnd = seededRandom(99);
    const schemes = ['rtsp', 'http', 'https', 'tcp', 'udp', 'rtmp', 'gopher', 'hls+http', 'data', 'ftp', 'RTSP'];
    const hosts = ['169.254.169.254', '2852039166', '0xA9FEA9FE', '0251.0376.0251.0376', '[::ffff:169.254.169.254]', '[::ffff:a9fe:a9fe]', '[fe80::1]', '[fd00:ec2::254]', 'localhost', 'LOCALHOST.', 'a.localhost', '127.0.0.1', '127.1', '0', '0.0.0.0', '[::1]', '[::]', 'metadata.google.internal', 'cam.example.com', 'evil.cams.example.net', 'lan.example.org', 'wan.example.org', 'loop.example.org', '10.1.2.3', '10.255.255.255', '11.0.0.1', '192.168.1.1', '100.100.100.200', 'user:pw@10.0.0.9', 'x@169.254.169.254', ''];
    const tails = ['/stream', '/live.m3u8', '/?listen=1', '/?localport=554', ':554/s', ':99999/s', '/%2e%2e/', '#frag', '/${MEI_SECRET}'];
    let accepted = 0;
    for (let i = 0; i < CASES; i++) {
      const url = `${pick(rnd, schemes)}://${pick(rnd, hosts)}${pick(rnd, tails)}`;
      try {
        const got = await confineSource(url, access, {}, 'spec.cameras[1].source', resolve);
        accepted++;
        const u = new URL(got.replace(/^rtsp:/i, 'http:'));
        expect(['rtsp', 'http', 'https']).toContain(got.split(':')[0].toLowerCase());
        expect(got).not.toMatch(/listen|localport|\$\{/);
        const host = u.hostname.replace(/^\[|\]$/g, '');
        const addrs = dns[host] ?? [host];
        for (const a of addrs) expect(a, url).toMatch(/^10\./);
      } catch (e) {
        expect(e, url).toBeInstanceOf(PolicyError);
        expect((e as PolicyError).field).toBe('spec.cameras[1].source');
      }
    }
    expect(accepted).toBeGreaterThan(20);
  });

  it('link-local and metadata are refused even when allow-listed; loopback only when allowed', async () => {
    const wide: MediaAccess = { ...access, allowedHosts: ['0.0.0.0/0', '::/0', 'metadata.google.internal'], allowLoopback: false };
    for (const u of ['http://169.254.169.254/latest', 'http://2852039166/', 'rtsp://[::ffff:169.254.169.254]/', 'http://metadata.google.internal/', 'http://[fe80::1]/', 'http://100.100.100.200/']) {
      await expect(confineSource(u, wide, {}, 'f', resolve), u).rejects.toThrow(/never allowed/);
    }
    await expect(confineSource('http://127.0.0.1:8080/', wide, {}, 'f', resolve)).rejects.toThrow(/loopback/);
    await expect(confineSource('http://localhost:8080/', wide, {}, 'f', resolve)).rejects.toThrow(/loopback/);
    await expect(confineSource('http://127.0.0.1:8080/', { ...wide, allowLoopback: true }, {}, 'f', resolve)).resolves.toBe('http://127.0.0.1:8080/');
    // Admission cannot see DNS; the node refuses a listed name that resolves to link-local.
    expect(() => checkSourceText('http://evil.cams.example.net/', access, 'f')).not.toThrow();
    await expect(confineSource('http://evil.cams.example.net/', access, {}, 'f', resolve)).rejects.toThrow(/resolves to a refused address/);
  });
});

describe('ffmpeg allow-lists (real ffmpeg)', () => {
  let http: Server;
  let base: string;
  beforeAll(async () => {
    writeFileSync(path.join(data, 'team-a', 'list.m3u8'), `#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nfile:${path.join(outside, 'secret.avi')}\n#EXT-X-ENDLIST\n`);
    writeFileSync(path.join(data, 'team-a', 'disguised.avi'), `#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nfile:${path.join(outside, 'secret.avi')}\n#EXT-X-ENDLIST\n`);
    http = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/vnd.apple.mpegurl' }).end(`#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nfile:${path.join(outside, 'secret.avi')}\n#EXT-X-ENDLIST\n`));
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  });
  afterAll(() => http.close());

  /** Runs ffmpeg's probe on a source and returns its stderr (it never gets as far as opening `outside`). */
  const probe = (source: string) =>
    new Promise<string>((resolve) => {
      const child = spawn(findFfmpeg(), ['-hide_banner', '-nostdin', ...inputArgs(parseSource(source), { realtime: false, loop: false })], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      child.stderr.on('data', (d) => (err += d));
      child.on('close', () => resolve(err));
    });

  it('an HLS playlist pointing at file: is refused from disk (also disguised as .avi) and over http', async () => {
    for (const src of [path.join(data, 'team-a', 'list.m3u8'), path.join(data, 'team-a', 'disguised.avi'), `${base}/live.m3u8`]) {
      const err = await probe(src);
      expect(err, src).toMatch(/not on whitelist|Invalid argument|Invalid data/);
      expect(err, src).not.toMatch(/secret\.avi'?[\s\S]*Stream #0/);
    }
    expect(ffmpegAllowLists('stream', 'https')).toEqual(['-protocol_whitelist', 'https,tls,tcp', '-format_whitelist', expect.not.stringContaining('hls')]);
  });
});

describe('admission (what the spec alone decides: 422 naming the field)', () => {
  const policy = admissionPolicyFromEnv({});
  it('refuses env references, .., protocol tricks, metadata hosts, foreign images, ownerReferences and finalizers; admits the demo job', () => {
    const job = (source: string, extra: Record<string, unknown> = {}) => ({ metadata: { name: 'j', ...extra }, spec: { cameras: [{ name: 'c', node: 'n', source }], models: { detector: { decoder: 'yolox', path: 'm.onnx' } } } });
    expect(admitUserJob(job('/${MEI_SECRET}'), 'team-a', policy)).toEqual([expect.objectContaining({ field: 'spec.cameras[0].source', reason: 'FieldValueForbidden' })]);
    expect(admitUserJob(job('${MEI_DATA_DIR}/../etc/passwd'), 'team-a', policy)[0].field).toBe('spec.cameras[0].source');
    expect(admitUserJob(job('http://169.254.169.254/'), 'team-a', policy)[0].message).toMatch(/never allowed/);
    expect(admitUserJob(job('tcp://10.0.0.1:9000?listen=1'), 'team-a', policy)[0].message).toMatch(/not allowed/);
    expect(admitUserJob(job('x.avi', { ownerReferences: [{ kind: 'Pod' }], finalizers: ['x/y'] }), 'team-a', policy).map((e) => e.field)).toEqual(['metadata.ownerReferences', 'metadata.finalizers']);
    const img = { metadata: { name: 'j' }, spec: { cameras: [], models: { detector: { decoder: 'yolox', path: '${MEI_ADMIN_PASSWORD}' } }, workers: [{ node: 'n', image: 'evil.example/miner:1' }, { node: 'm', image: 'mei/edge-agent:0.2.0' }, { node: 'o', image: 'mei/edge-agent-evil:1' }] } };
    expect(admitUserJob(img, 'team-a', policy).map((e) => e.field)).toEqual(['spec.models.detector.path', 'spec.workers[0].image', 'spec.workers[2].image']);
    expect(admitUserJob(demoJob('/models') as never, 'default', policy)).toEqual([]);
    // The demo job (the dashboard's sample source too) in another namespace: outside its media folder, said at once.
    expect(admitUserJob(demoJob('/models') as never, 'team-a', policy)).toEqual([
      expect.objectContaining({ field: 'spec.cameras[0].source', message: expect.stringContaining("outside this namespace's media folder (${MEI_DATA_DIR}/team-a/") }),
      expect.objectContaining({ field: 'spec.cameras[1].source' }),
    ]);
    expect(admitUserJob(job('${MEI_DATA_DIR}/team-a/cam1.avi'), 'team-a', policy)).toEqual([]);
    expect(admitUserJob(job('file://${MEI_DATA_DIR}/team-a'), 'team-a', policy)).toEqual([]);
    expect(admitUserJob(job('${MEI_DATA_DIR}/team-ab/x.avi'), 'team-a', policy)[0].field).toBe('spec.cameras[0].source');
    expect(admitUserJob(job('${MEI_DATA_DIR}/team-b/x.avi'), 'team-a', policy)[0].field).toBe('spec.cameras[0].source');
    // Relative and absolute paths are the node's to confine (its data root is not known here).
    expect(admitUserJob(job('cam1.avi'), 'team-a', policy)).toEqual([]);
    // An admin's nested folders (a trailing slash too); '.' and '' are the whole root.
    const nested = admissionPolicyFromEnv({ MEI_MEDIA_POLICY: '{"namespaceRoots":{"*":"tenants/{namespace}/","open":"."}}' });
    expect(admitUserJob(job('${MEI_DATA_DIR}/tenants/team-a/x.avi'), 'team-a', nested)).toEqual([]);
    expect(admitUserJob(job('${MEI_DATA_DIR}/tenants/team-b/x.avi'), 'team-a', nested)[0].message).toContain('(${MEI_DATA_DIR}/tenants/team-a/;');
    expect(admitUserJob(job('${MEI_DATA_DIR}/anything.avi'), 'open', nested)).toEqual([]);
    expect(admitUserJob(job('${MEI_DATA_DIR}/anything.avi'), 'default', nested)).toEqual([]);
    expect(loadJobSchema()).toBeTruthy();
  });

  it('a bad MEI_MEDIA_POLICY refuses start-up naming the field', () => {
    expect(() => admissionPolicyFromEnv({ MEI_MEDIA_POLICY: '{"schemes":["gopher"]}' })).toThrow(/MEI_MEDIA_POLICY: schemes\.0/);
    expect(() => admissionPolicyFromEnv({ MEI_MEDIA_POLICY: '{"namespaceRoots":{"*":"../x"}}' })).toThrow(/namespaceRoots/);
    expect(() => admissionPolicyFromEnv({ MEI_MEDIA_POLICY: '{"allowedHosts":["a b"]}' })).toThrow(/allowedHosts\.0/);
    expect(() => admissionPolicyFromEnv({ MEI_MEDIA_POLICY: '/nonexistent/policy.json' })).toThrow(/cannot read/);
  });

  it('a tenant whose namespace reads the whole data root refuses start-up, naming the user, the namespace and the setting', () => {
    const admin = { username: 'admin', namespaces: ['*'] };
    const carol = { username: 'carol', namespaces: ['team-c', 'default'] };
    expect(sharedMediaRootError(policy, [admin, { username: 'alice', namespaces: ['team-a'] }])).toBeUndefined();
    expect(sharedMediaRootError(policy, [admin, carol])).toMatch(/MEI_USERS_FILE: user "carol" has namespace "default".*namespaceRoots\.default/);
    expect(sharedMediaRootError(admissionPolicyFromEnv({ MEI_MEDIA_POLICY: '{"namespaceRoots":{"*":""}}' }), [{ username: 'alice', namespaces: ['team-a'] }])).toMatch(/"team-a"/);
    // Said knowingly ('.'), or a folder of its own: accepted.
    expect(sharedMediaRootError(admissionPolicyFromEnv({ MEI_MEDIA_POLICY: '{"namespaceRoots":{"default":"."}}' }), [admin, carol])).toBeUndefined();
    expect(sharedMediaRootError(admissionPolicyFromEnv({ MEI_MEDIA_POLICY: '{"namespaceRoots":{"default":"default"}}' }), [admin, carol])).toBeUndefined();
  });
});
