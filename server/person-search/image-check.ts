// Checks an uploaded query image before anything is decoded: declared type, magic bytes, size and the pixel
// dimensions read from its header. Pure and small: the API route runs it (it is bundled by Next), the
// decoding happens in the server process (image.ts).
import { MAX_QUERY_IMAGE_BYTES, QUERY_IMAGE_SIDE } from '@mei/contracts';

export type ImageType = 'image/jpeg' | 'image/png';
export const IMAGE_TYPES: readonly ImageType[] = ['image/jpeg', 'image/png'];

/** A refused image: the HTTP status to answer with and the request field at fault. */
export class ImageError extends Error {
  constructor(
    readonly status: 413 | 415 | 422,
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

/** Width and height from a PNG's IHDR or a JPEG's first SOF marker, without decoding pixels. */
export function imageDimensions(bytes: Uint8Array, type: ImageType): { width: number; height: number } | undefined {
  const u16 = (o: number) => (bytes[o] << 8) | bytes[o + 1];
  const u32 = (o: number) => ((bytes[o] << 24) >>> 0) + (bytes[o + 1] << 16) + (bytes[o + 2] << 8) + bytes[o + 3];
  if (type === 'image/png') {
    // Signature (8), IHDR length (4), "IHDR" (4), width (4), height (4).
    if (bytes.length < 24 || String.fromCharCode(...bytes.subarray(12, 16)) !== 'IHDR') return undefined;
    return { width: u32(16), height: u32(20) };
  }
  let o = 2;
  while (o + 9 < bytes.length) {
    if (bytes[o] !== 0xff) return undefined;
    const marker = bytes[o + 1];
    if (marker === 0xff) {
      o++; // fill byte
      continue;
    }
    // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC) carry the frame size.
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) return { height: u16(o + 5), width: u16(o + 7) };
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      o += 2;
      continue;
    }
    o += 2 + u16(o + 2);
  }
  return undefined;
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
  const dims = imageDimensions(bytes, actual);
  if (!dims) throw new ImageError(422, `is not a readable ${actual === 'image/png' ? 'PNG' : 'JPEG'} (no image size in its header)`, field);
  const { min, max } = QUERY_IMAGE_SIDE;
  if (dims.width < min || dims.height < min || dims.width > max || dims.height > max)
    throw new ImageError(422, `is ${dims.width}x${dims.height} pixels; each side must be ${min}..${max}`, field);
  return { type: actual, ...dims, bytes };
}

