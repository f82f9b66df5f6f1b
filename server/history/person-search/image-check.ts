// Checks an untrusted image before anything is decoded: declared type, magic bytes, size, and its complete
// header (every PNG chunk, every JPEG segment up to the scan) against IMAGE_BOUNDS. Pure and small: the API
// route runs it (it is bundled by Next); decoding happens off the event loop in the server (image.ts).
import { IMAGE_BOUNDS, MAX_QUERY_IMAGE_BYTES, QUERY_IMAGE_SIDE } from '@mei/contracts';

export type ImageType = 'image/jpeg' | 'image/png';
export const IMAGE_TYPES: readonly ImageType[] = ['image/jpeg', 'image/png'];

/** A refused image: the HTTP status to answer with and the request field at fault. */
export class ImageError extends Error {
  constructor(
    readonly status: 413 | 415 | 422 | 503,
    message: string,
    readonly field = 'image',
  ) {
    super(`${field}: ${message}`);
    this.name = 'ImageError';
  }
}

export const isJpeg = (b: Uint8Array) => b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff;
const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const isPng = (b: Uint8Array) => b.length >= 8 && PNG_MAGIC.every((v, i) => b[i] === v);

/** The media type the bytes really are, from their first bytes. */
export function sniffImageType(bytes: Uint8Array): ImageType | undefined {
  return isJpeg(bytes) ? 'image/jpeg' : isPng(bytes) ? 'image/png' : undefined;
}

/** What a complete header walk found: the one frame size, and what the decoder will be asked to do. */
export interface ImageHeader {
  width: number;
  height: number;
  /** PNG Adam7 interlace or progressive JPEG (the decoder keeps the whole image while it works). */
  interlaced: boolean;
}

/** Why an image is refused from its header; `ImageError` carries the status and field. */
class HeaderError extends Error {}

const u16 = (b: Uint8Array, o: number) => (b[o] << 8) | b[o + 1];
const u32 = (b: Uint8Array, o: number) => ((b[o] << 24) >>> 0) + (b[o + 1] << 16) + (b[o + 2] << 8) + b[o + 3];
const PNG_BIT_DEPTHS: Record<number, number[]> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] };
const PNG_CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
/** Deflate cannot expand more than 1032:1: less compressed data than raw/1032 cannot fill the claimed size. */
const DEFLATE_MAX_RATIO = 1032;

/**
 * Walks every PNG chunk: exactly one IHDR and it comes first (pngjs obeys a second one, the 99-byte bomb),
 * valid depth/colour/interlace, chunk lengths inside the file, IDAT present, IEND last, ancillary bytes
 * and chunk count bounded.
 */
function pngHeader(b: Uint8Array): ImageHeader {
  let o = 8;
  let ihdr: ImageHeader | undefined;
  let chunks = 0;
  let metadata = 0;
  let idat = 0;
  let raw = 0;
  for (;;) {
    if (o + 12 > b.length) throw new HeaderError('is truncated (a chunk runs past the end)');
    const len = u32(b, o);
    const type = String.fromCharCode(b[o + 4], b[o + 5], b[o + 6], b[o + 7]);
    if (!/^[A-Za-z]{4}$/.test(type)) throw new HeaderError('has a malformed chunk type');
    if (len > b.length - o - 12) throw new HeaderError(`is truncated (chunk ${type} claims ${len} bytes)`);
    if (++chunks > IMAGE_BOUNDS.maxPngChunks) throw new HeaderError(`has more than ${IMAGE_BOUNDS.maxPngChunks} chunks`);
    if (chunks === 1 && type !== 'IHDR') throw new HeaderError('does not start with IHDR');
    if (type === 'IHDR') {
      if (ihdr) throw new HeaderError('has more than one IHDR chunk');
      if (len !== 13) throw new HeaderError('has a malformed IHDR');
      const [depth, colour, compression, filter, interlace] = b.subarray(o + 16, o + 21);
      if (!PNG_BIT_DEPTHS[colour]?.includes(depth) || compression !== 0 || filter !== 0 || interlace > 1) throw new HeaderError('has an invalid IHDR (bit depth, colour type, compression, filter or interlace)');
      ihdr = { width: u32(b, o + 8), height: u32(b, o + 12), interlaced: interlace === 1 };
      // Inflated size of the pixel rows (Adam7 passes add at most a filter byte per pass row).
      raw = ihdr.height * (1 + Math.ceil((ihdr.width * PNG_CHANNELS[colour] * depth) / 8)) + (ihdr.interlaced ? 7 * ihdr.height : 0);
      if (raw > IMAGE_BOUNDS.maxRawBytes) throw new HeaderError(`inflates to ${raw} bytes of pixel data (at most ${IMAGE_BOUNDS.maxRawBytes})`);
    } else if (type === 'IDAT') {
      idat += len;
    } else if (type === 'IEND') {
      if (!idat) throw new HeaderError('has no image data (IDAT)');
      if (idat < raw / DEFLATE_MAX_RATIO) throw new HeaderError(`claims ${ihdr!.width}x${ihdr!.height} pixels but carries only ${idat} bytes of image data`);
      return ihdr!;
    } else if (type !== 'PLTE' && (metadata += len) > IMAGE_BOUNDS.maxMetadataBytes) {
      throw new HeaderError(`carries more than ${IMAGE_BOUNDS.maxMetadataBytes} bytes of metadata chunks`);
    }
    o += 12 + len;
  }
}

/**
 * Walks the JPEG segments up to the scan: exactly one SOF (its size is the frame's), segment lengths inside
 * the file, APPn/COM (EXIF, XMP, ICC) bytes and segment count bounded.
 */
function jpegHeader(b: Uint8Array): ImageHeader {
  let o = 2;
  let sof: ImageHeader | undefined;
  let segments = 0;
  let metadata = 0;
  for (;;) {
    if (o + 4 > b.length) throw new HeaderError('is truncated (no scan after the header)');
    if (b[o] !== 0xff) throw new HeaderError('has a malformed segment marker');
    const marker = b[o + 1];
    if (marker === 0xff) {
      o++; // fill byte
      continue;
    }
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      o += 2;
      continue;
    }
    if (marker === 0xd9) throw new HeaderError('ends before its scan');
    const len = u16(b, o + 2);
    if (len < 2 || o + 2 + len > b.length) throw new HeaderError('is truncated (a segment runs past the end)');
    if (++segments > IMAGE_BOUNDS.maxJpegSegments) throw new HeaderError(`has more than ${IMAGE_BOUNDS.maxJpegSegments} segments`);
    // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC) carry the frame size.
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      if (sof) throw new HeaderError('has more than one frame header (SOF)');
      if (len < 8 || b[o + 9] < 1 || b[o + 9] > 4) throw new HeaderError('has a malformed frame header (SOF)');
      sof = { height: u16(b, o + 5), width: u16(b, o + 7), interlaced: marker !== 0xc0 && marker !== 0xc1 };
    } else if ((marker >= 0xe0 && marker <= 0xef) || marker === 0xfe) {
      if ((metadata += len) > IMAGE_BOUNDS.maxMetadataBytes) throw new HeaderError(`carries more than ${IMAGE_BOUNDS.maxMetadataBytes} bytes of metadata (EXIF, XMP, ICC, comments)`);
    } else if (marker === 0xda) {
      if (!sof) throw new HeaderError('has a scan before its frame header');
      // Every 8x8 block costs at least a bit: fewer scan bytes than that cannot fill the claimed size.
      const scan = b.length - o;
      if (scan < (sof.width * sof.height) / 512) throw new HeaderError(`claims ${sof.width}x${sof.height} pixels but carries only ${scan} bytes of image data`);
      return sof;
    }
    o += 2 + len;
  }
}

/**
 * The complete header of a JPEG or PNG: its one frame size, checked against `max` (side and pixels). Throws
 * ImageError(422) naming `field`; nothing is decoded.
 */
export function readImageHeader(bytes: Uint8Array, type: ImageType, field = 'image', max: { side: number; pixels: number } = { side: IMAGE_BOUNDS.maxSide, pixels: IMAGE_BOUNDS.maxPixels }): ImageHeader {
  const kind = type === 'image/png' ? 'PNG' : 'JPEG';
  let h: ImageHeader;
  try {
    h = type === 'image/png' ? pngHeader(bytes) : jpegHeader(bytes);
  } catch (e) {
    if (e instanceof HeaderError) throw new ImageError(422, `is not a valid ${kind}: it ${e.message}`, field);
    throw e;
  }
  if (h.width < 1 || h.height < 1 || h.width > max.side || h.height > max.side || h.width * h.height > max.pixels) {
    throw new ImageError(422, `is ${h.width}x${h.height} pixels; at most ${max.side} per side and ${max.pixels} pixels are decoded`, field);
  }
  return h;
}

/** Width and height from a complete header walk, or undefined when the header is not valid. */
export function imageDimensions(bytes: Uint8Array, type: ImageType): { width: number; height: number } | undefined {
  try {
    const { width, height } = readImageHeader(bytes, type, 'image', { side: 65535, pixels: Number.MAX_SAFE_INTEGER });
    return { width, height };
  } catch {
    return undefined;
  }
}

export interface CheckedImage {
  type: ImageType;
  width: number;
  height: number;
  bytes: Uint8Array;
}

/**
 * Checks an uploaded image before decoding: declared content type (415), magic bytes agreeing with it (415),
 * size (413) and pixel dimensions (422). Every error names the field.
 */
export function checkImage(bytes: Uint8Array, declaredType: string | undefined, field = 'image'): CheckedImage {
  const declared = (declaredType ?? '').split(';')[0].trim().toLowerCase();
  if (!IMAGE_TYPES.includes(declared as ImageType))
    throw new ImageError(415, `unsupported content type ${declared ? `"${declared.slice(0, 80)}"` : '(none)'}; send image/jpeg or image/png`, field);
  if (bytes.byteLength > MAX_QUERY_IMAGE_BYTES) throw new ImageError(413, `is ${bytes.byteLength} bytes; at most ${MAX_QUERY_IMAGE_BYTES} (5 MB) are accepted`, field);
  if (bytes.byteLength === 0) throw new ImageError(422, 'is empty', field);
  const actual = sniffImageType(bytes);
  if (actual !== declared)
    throw new ImageError(415, `is declared ${declared} but its bytes are ${actual ? `a ${actual === 'image/png' ? 'PNG' : 'JPEG'}` : 'neither a JPEG nor a PNG'}`, field);
  const dims = readImageHeader(bytes, actual, field);
  const { min, max } = QUERY_IMAGE_SIDE;
  if (dims.width < min || dims.height < min || dims.width > max || dims.height > max)
    throw new ImageError(422, `is ${dims.width}x${dims.height} pixels; each side must be ${min}..${max}`, field);
  return { type: actual, width: dims.width, height: dims.height, bytes };
}

