/**
 * Image decoding with sharp (libvips): JPEG/PNG/WebP/... -> packed RGB bytes. The pixel count from
 * the file's header is checked against the process-wide limit (ts/io/png.ts, `setMaxImagePixels`)
 * before any pixel is decoded: ERR_STCN_IMAGE_TOO_LARGE naming the file.
 */
import sharp from "sharp";
import { isStcnError, StcnError } from "../errors.js";
import { checkImagePixels, getMaxImagePixels } from "./png.js";

/** An RGB image: `data[(y * width + x) * 3 + c]`. */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

/** Decodes an image file (or encoded bytes) to 8-bit RGB. ERR_STCN_INPUT names the file on failure. */
export async function readRgb(source: string | Uint8Array, name = typeof source === "string" ? source : "image"): Promise<RgbImage> {
  const limit = getMaxImagePixels();
  try {
    // libvips reads the header first and refuses width x height > limitInputPixels before decoding.
    const { data, info } = await sharp(source, { limitInputPixels: limit })
      .removeAlpha()
      .toColourspace("srgb")
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels`);
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
  } catch (error) {
    if (isStcnError(error)) throw error;
    const message = (error as Error).message;
    if (/pixel limit/i.test(message)) {
      // The header's size for the message (header only: no decoding).
      const meta = await sharp(source, { limitInputPixels: false }).metadata().catch(() => undefined);
      if (meta?.width && meta.height) checkImagePixels(meta.width, meta.height, `image ${name}`);
      throw new StcnError("ERR_STCN_IMAGE_TOO_LARGE", `image ${name} is above the limit of ${limit} pixels (setMaxImagePixels / STCN_MAX_IMAGE_PIXELS)`);
    }
    throw new StcnError("ERR_STCN_INPUT", `cannot decode image ${name}: ${message.split("\n")[0]}`);
  }
}

/** Encodes packed RGB bytes to PNG (or JPEG when `path` ends in .jpg/.jpeg). */
export async function encodeRgb(image: RgbImage, format: "png" | "jpeg" = "png"): Promise<Uint8Array> {
  const s = sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } });
  const buffer = format === "png" ? await s.png().toBuffer() : await s.jpeg({ quality: 95 }).toBuffer();
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}
