/** Image decoding with sharp (libvips): JPEG/PNG/WebP/... -> packed RGB bytes. */
import sharp from "sharp";
import { StcnError } from "../errors.js";

/** An RGB image: `data[(y * width + x) * 3 + c]`. */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

/** Decodes an image file (or encoded bytes) to 8-bit RGB. ERR_STCN_INPUT names the file on failure. */
export async function readRgb(source: string | Uint8Array, name = typeof source === "string" ? source : "image"): Promise<RgbImage> {
  try {
    const { data, info } = await sharp(source).removeAlpha().toColourspace("srgb").raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels`);
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
  } catch (error) {
    throw new StcnError("ERR_STCN_INPUT", `cannot decode image ${name}: ${(error as Error).message}`);
  }
}

/** Encodes packed RGB bytes to PNG (or JPEG when `path` ends in .jpg/.jpeg). */
export async function encodeRgb(image: RgbImage, format: "png" | "jpeg" = "png"): Promise<Uint8Array> {
  const s = sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } });
  const buffer = format === "png" ? await s.png().toBuffer() : await s.jpeg({ quality: 95 }).toBuffer();
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}
