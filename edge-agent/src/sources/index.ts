export { openVideoSource, VideoSource } from './videoSource.ts';
export type { Roi, SourceInfo, SourceMode, SourceState, SourceStateEvent, VideoSourceOptions } from './videoSource.ts';
export { FrameQueue } from './frameQueue.ts';
export { findFfmpeg, probeVideo, parseFfmpegBanner } from './ffmpeg.ts';
export { parseSource, SourceError } from './uri.ts';
