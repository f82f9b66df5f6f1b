// Parses spec.cameras[].source into what the ffmpeg reader needs.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** A source the user must fix (bad URI, missing file, ROI outside the frame); `field` names the spec field. */
export class SourceError extends Error {
  readonly field: string;
  constructor(message: string, field = 'source') {
    super(message);
    this.name = 'SourceError';
    this.field = field;
  }
}

export type ParsedSource =
  | { kind: 'file'; path: string }
  | { kind: 'images'; dir: string; pattern: string; startNumber: number; count: number; frameRate?: number }
  | { kind: 'stream'; url: string; protocol: string };

const STREAM_PROTOCOLS = ['rtsp', 'rtsps', 'rtmp', 'rtmps', 'http', 'https', 'udp', 'tcp', 'srt'];
const IMAGE_NAME = /^(\d+)\.(jpg|jpeg|png|bmp)$/i;

/** Reads a MOTChallenge image folder (000001.jpg ...), or a sequence folder holding img1/. */
export function parseImageFolder(dir: string): ParsedSource & { kind: 'images' } {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new SourceError(`image folder not found: ${dir}`);
  const imgDir = existsSync(path.join(dir, 'img1')) ? path.join(dir, 'img1') : dir;
  const numbered = readdirSync(imgDir)
    .map((n) => IMAGE_NAME.exec(n))
    .filter((m): m is RegExpExecArray => m !== null);
  if (numbered.length === 0) throw new SourceError(`no numbered images (000001.jpg ...) in ${imgDir}`);
  const digits = numbered[0][1].length;
  const ext = numbered[0][2];
  const sameKind = numbered.filter((m) => m[1].length === digits && m[2] === ext);
  const startNumber = Math.min(...sameKind.map((m) => Number(m[1])));
  // MOTChallenge keeps the frame rate in seqinfo.ini next to img1/.
  let frameRate: number | undefined;
  const ini = path.join(path.dirname(imgDir), 'seqinfo.ini');
  if (existsSync(ini)) {
    const m = /^frameRate\s*=\s*([\d.]+)/m.exec(readFileSync(ini, 'utf8'));
    if (m) frameRate = Number(m[1]);
  }
  return {
    kind: 'images',
    dir: imgDir,
    pattern: path.join(imgDir, `%0${digits}d.${ext}`),
    startNumber,
    count: sameKind.length,
    frameRate,
  };
}

/**
 * A source string is data: `${VAR}` is never expanded here (the control plane resolves the one allowed
 * placeholder, ${MEI_DATA_DIR}, before the agent sees the task; see @mei/contracts/media-policy).
 */
export function parseSource(source: string): ParsedSource {
  const value = source.trim();
  if (value === '') throw new SourceError('source is empty');
  if (value.includes('${')) throw new SourceError('environment variables are not expanded in a source (only ${MEI_DATA_DIR}, resolved by the server)');
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(value)?.[1]?.toLowerCase();
  if (scheme === 'file') return classifyPath(fileURLToPath(value));
  if (scheme === 'dir') return parseImageFolder(decodeURIComponent(value.slice('dir://'.length)));
  if (scheme && STREAM_PROTOCOLS.includes(scheme)) return { kind: 'stream', url: value, protocol: scheme };
  if (scheme) throw new SourceError(`unsupported source scheme '${scheme}://' (use file://, dir://, rtsp://, http(s)://)`);
  return classifyPath(path.resolve(value));
}

function classifyPath(p: string): ParsedSource {
  if (existsSync(p) && statSync(p).isDirectory()) return parseImageFolder(p);
  if (!existsSync(p)) throw new SourceError(`video file not found: ${p}`);
  return { kind: 'file', path: p };
}
