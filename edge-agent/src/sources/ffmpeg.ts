// Finding ffmpeg, probing a video from `ffmpeg -i` stderr (no ffprobe needed), and building decoder arguments.
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import type { ParsedSource } from './uri.ts';
import { ffmpegAllowLists } from '@mei/contracts/media-policy';

/** `ffmpeg` from PATH, else the binary named by MEI_FFMPEG. */
export function findFfmpeg(env: Record<string, string | undefined> = process.env): string {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, 'ffmpeg');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this PATH entry
    }
  }
  if (env.MEI_FFMPEG) {
    try {
      accessSync(env.MEI_FFMPEG, constants.X_OK);
      return env.MEI_FFMPEG;
    } catch {
      throw new Error(`MEI_FFMPEG=${env.MEI_FFMPEG} is not an executable file`);
    }
  }
  throw new Error('ffmpeg not found: install ffmpeg (on PATH) or set MEI_FFMPEG to its path');
}

export interface VideoInfo {
  width: number;
  height: number;
  /** Native frame rate (tbr/fps of the first video stream); undefined when ffmpeg does not say. */
  fps?: number;
  durationSec?: number;
  /** Frames in a recorded source: duration x fps for files, the image count for folders. */
  frameCount?: number;
}

/** Parses the first video stream of an `ffmpeg -i` banner. Exported for tests. */
export function parseFfmpegBanner(stderr: string): Partial<VideoInfo> {
  const info: Partial<VideoInfo> = {};
  const duration = /Duration:\s*(\d+):(\d+):(\d+(?:\.\d+)?)/.exec(stderr);
  if (duration) info.durationSec = Number(duration[1]) * 3600 + Number(duration[2]) * 60 + Number(duration[3]);
  const stream = /Stream #\d+:\d+[^\n]*?: Video: ([^\n]*)/.exec(stderr);
  if (stream) {
    const dims = /(?:^|[ ,])(\d{1,5})x(\d{1,5})(?=[ ,\]]|$)/.exec(stream[1]);
    if (dims) {
      info.width = Number(dims[1]);
      info.height = Number(dims[2]);
    }
    const fps = /([\d.]+)(k?) fps/.exec(stream[1]) ?? /([\d.]+)(k?) tbr/.exec(stream[1]);
    if (fps) info.fps = Number(fps[1]) * (fps[2] ? 1000 : 1);
  }
  return info;
}

/** Runs `ffmpeg -i <input>` and reads size, rate and length from its banner. */
export function probeVideo(ffmpeg: string, inputArgs: string[], timeoutMs = 15000): Promise<VideoInfo> {
  return new Promise((resolve, reject) => {
    const child = spawn(ffmpeg, ['-hide_banner', '-nostdin', ...inputArgs], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => (stderr += d));
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${ffmpeg}: ${err.message}`));
    });
    child.on('close', () => {
      clearTimeout(timer);
      const info = parseFfmpegBanner(stderr);
      if (!info.width || !info.height) {
        const last = stderr.trim().split('\n').slice(-1)[0] ?? 'no output';
        reject(new Error(`ffmpeg found no video stream: ${last}`));
        return;
      }
      resolve({
        width: info.width,
        height: info.height,
        fps: info.fps,
        durationSec: info.durationSec,
        frameCount: info.durationSec && info.fps ? Math.round(info.durationSec * info.fps) : undefined,
      });
    });
  });
}

export interface DecoderArgsOptions {
  /** Real-time pacing (a file replayed as a live camera). */
  realtime: boolean;
  /** With realtime: replay at this multiple of the file's own rate (default 1). */
  readRate?: number;
  loop: boolean;
  /** Start this far into a recording (seconds). */
  startSeconds?: number;
  /** Keep every n-th frame (history sampling, exact frame numbers). */
  everyNth?: number;
  /** Keep frames at least 1/fps apart (live sampling; never duplicates frames). */
  maxFps?: number;
  roi?: { x: number; y: number; width: number; height: number };
  /** Scale the (cropped) frame to this size in the decoder (reduced-resolution decode). */
  scaleTo?: { width: number; height: number };
  /** Frame rate of an image folder. */
  imageFrameRate?: number;
}

export function inputArgs(src: ParsedSource, opts: Pick<DecoderArgsOptions, 'realtime' | 'readRate' | 'loop' | 'imageFrameRate' | 'startSeconds'>): string[] {
  const rate = opts.readRate ?? 1;
  const pacing = [
    ...(opts.realtime ? (rate === 1 ? ['-re'] : ['-readrate', rate.toFixed(4)]) : []),
    ...(opts.loop ? ['-stream_loop', '-1'] : []),
    ...(opts.startSeconds ? ['-ss', opts.startSeconds.toFixed(3)] : []),
  ];
  switch (src.kind) {
    // Every input is opened with the protocols and demuxers of its kind only: a recorded file cannot be an
    // HLS or concat playlist pulling in other files or URLs, an http source cannot fall back to file:.
    case 'file':
      return [...pacing, ...ffmpegAllowLists('file'), '-i', src.path];
    case 'images':
      return [
        ...pacing,
        ...ffmpegAllowLists('images'),
        '-framerate', String(opts.imageFrameRate ?? src.frameRate ?? 25),
        '-start_number', String(src.startNumber),
        '-i', src.pattern,
      ];
    case 'stream':
      // TCP for RTSP: UDP loses packets (smeared frames) on busy networks. -timeout (µs) ends a dead connection.
      return src.protocol.startsWith('rtsp')
        ? [...ffmpegAllowLists('stream', src.protocol), '-rtsp_transport', 'tcp', '-timeout', '10000000', '-i', src.url]
        : [...ffmpegAllowLists('stream', src.protocol), '-i', src.url];
  }
}

/** Full argument list for decoding to rawvideo rgb24 on stdout. */
export function decoderArgs(src: ParsedSource, opts: DecoderArgsOptions): string[] {
  const filters: string[] = [];
  if (opts.everyNth && opts.everyNth > 1) filters.push(`select='not(mod(n\\,${opts.everyNth}))'`);
  if (opts.maxFps) filters.push(`select='isnan(prev_selected_t)+gte(t-prev_selected_t\\,${(1 / opts.maxFps - 0.002).toFixed(4)})'`);
  // Convert before cropping so odd ROI offsets stay exact (4:2:0 chroma would round them).
  filters.push('format=rgb24');
  if (opts.roi) filters.push(`crop=${opts.roi.width}:${opts.roi.height}:${opts.roi.x}:${opts.roi.y}`);
  if (opts.scaleTo) filters.push(`scale=${opts.scaleTo.width}:${opts.scaleTo.height}:flags=bilinear`);
  return [
    '-hide_banner', '-nostdin', '-nostats', '-loglevel', 'info',
    // One decoder thread and one filter thread: a node runs one ffmpeg per camera, so cameras already use
    // the cores in parallel, and ffmpeg's own threads only add hand-offs. Same frames; CPU per frame within the
    // noise on PETS09's MPEG-4, 5-22 % less on an H.264 copy (bench:preprocess --ffmpeg, docs/benchmarks.md).
    '-filter_threads', '1',
    '-threads', '1',
    ...inputArgs(src, opts),
    '-an', '-sn', '-dn',
    '-vf', filters.join(','),
    // One output frame per selected input frame: no duplicates, no drops.
    '-fps_mode', 'passthrough',
    '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1',
  ];
}

/** Size of the rawvideo output stream, from the "Output #0" part of the decoder's stderr. */
export function parseOutputSize(stderr: string): { width: number; height: number } | undefined {
  const out = stderr.indexOf('Output #0');
  if (out < 0) return undefined;
  const info = parseFfmpegBanner(stderr.slice(out));
  return info.width && info.height ? { width: info.width, height: info.height } : undefined;
}
