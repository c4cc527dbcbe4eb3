/** Masks drawn over frames: palette colours blended in, object outlines in white. */
import type { RgbImage } from "./image.js";
import { davisPalette, type Palette } from "./palette.js";

/** Options of {@link overlayLabels}. */
export interface OverlayOptions {
  /** Colour of each id (default: the DAVIS palette). */
  palette?: Palette;
  /** Weight of the object colour over the frame, 0..1 (default 0.55). */
  opacity?: number;
}

/**
 * The frame with each object's pixels blended with its palette colour and a one-pixel white outline
 * on the object's border (pixels with a 4-neighbour of another id); background pixels unchanged.
 */
export function overlayLabels(frame: RgbImage, labels: Uint8Array, options: OverlayOptions = {}): RgbImage {
  const palette = options.palette ?? davisPalette();
  const alpha = options.opacity ?? 0.55;
  const { width, height } = frame;
  const out = new Uint8Array(frame.data.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const l = labels[i] as number;
      const edge =
        l !== 0 &&
        ((x > 0 && labels[i - 1] !== l) || (x < width - 1 && labels[i + 1] !== l) || (y > 0 && labels[i - width] !== l) || (y < height - 1 && labels[i + width] !== l));
      const colour = palette[l] ?? [255, 255, 255];
      for (let c = 0; c < 3; c++) {
        const v = frame.data[i * 3 + c] as number;
        out[i * 3 + c] = edge ? 255 : l === 0 ? v : Math.round(v * (1 - alpha) + (colour[c] as number) * alpha);
      }
    }
  }
  return { data: out, width, height };
}
