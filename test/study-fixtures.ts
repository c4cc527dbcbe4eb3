/**
 * A Something-Else style input written at test time from real frames of ../shared/data: the frames
 * scaled to 427x240 (the size of Something-Something's originals) as `<frames>/<video>/<NNNN>.jpg`, and
 * an `annotations.json` whose boxes are the tight boxes of each object of the real masks (scaled the
 * same way, so they are fractional like the dataset's).
 */
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import sharp from "sharp";
import { readLabelPng } from "../dist/index.js";
import { dataRoot, runPython } from "./helpers.js";

export const SCALE = 0.5;

/** Real frames and masks per video: judo (16 frames, a mask per frame), bike (4 frames, the first mask reused). */
const SOURCES = {
  judo: {
    frames: join(dataRoot, "davis-judo", "JPEGImages", "480p", "judo"),
    mask: (i: number) => join(dataRoot, "davis-judo", "Annotations", "480p", "judo", `${String(i).padStart(5, "0")}.png`),
  },
  bike: {
    frames: join(dataRoot, "clips", "bike", "frames"),
    mask: () => join(dataRoot, "clips", "bike", "masks", "00000.png"),
  },
} as const;

export type FixtureVideo = keyof typeof SOURCES;

export interface Box2d {
  x1: number;
  x2: number;
  y1: number;
  y2: number;
}

export interface SomethingFixture {
  annotations: string;
  frames: string;
  /** Per video, per frame (0-based), the boxes in list order. */
  boxes: Record<string, Box2d[][]>;
  /** Original (scaled) frame size. */
  width: number;
  height: number;
}

/** Tight box of each object id (sorted) of a label map, [min, max + 1) per axis, times `scale`. */
function tightBoxes(data: Uint8Array, width: number, height: number, scale: number): Box2d[] {
  const ids = [...new Set(data)].filter((v) => v !== 0).sort((a, b) => a - b);
  return ids.map((id) => {
    let x0 = width;
    let y0 = height;
    let x1 = -1;
    let y1 = -1;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        if (data[y * width + x] !== id) continue;
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
    return { x1: x0 * scale, y1: y0 * scale, x2: (x1 + 1) * scale, y2: (y1 + 1) * scale };
  });
}

/** Writes frames and annotations.json for `videos` (in this order) into `dir`. */
export async function writeSomethingFixture(dir: string, videos: readonly FixtureVideo[]): Promise<SomethingFixture> {
  const frames = join(dir, "frames");
  const boxes: Record<string, Box2d[][]> = {};
  const parts: string[] = [];
  let width = 0;
  let height = 0;
  for (const video of videos) {
    const src = SOURCES[video];
    const names = readdirSync(src.frames).filter((n) => n.endsWith(".jpg")).sort();
    mkdirSync(join(frames, video), { recursive: true });
    const records: unknown[] = [];
    boxes[video] = [];
    for (let i = 0; i < names.length; i++) {
      const image = sharp(join(src.frames, names[i] as string));
      const meta = await image.metadata();
      width = Math.round((meta.width as number) * SCALE);
      height = Math.round((meta.height as number) * SCALE);
      await image.resize(width, height).jpeg({ quality: 95 }).toFile(join(frames, video, `${String(i + 1).padStart(4, "0")}.jpg`));
      const mask = await readLabelPng(src.mask(i));
      const frameBoxes = tightBoxes(mask.data, mask.width, mask.height, SCALE);
      boxes[video].push(frameBoxes);
      const name = `${video}/${String(i + 1).padStart(4, "0")}.jpg`;
      records.push({
        name,
        labels: frameBoxes.map((b, k) => ({ box2d: b, category: `object ${k}`, gt_annotation: `object ${k}`, standard_category: String(k).padStart(4, "0") })),
        nr_instances: frameBoxes.length,
      });
    }
    parts.push(`${JSON.stringify(video)}: ${JSON.stringify(records)}`);
  }
  const annotations = join(dir, "annotations.json");
  writeFileSync(annotations, `{${parts.join(",\n")}}\n`);
  return { annotations, frames, boxes, width, height };
}

/** Random-weight STCN export (seeded). */
export function exportStcn(path: string): void {
  runPython("export_stcn.py", ["--random-init", "--seed", "3", "--out", path]);
}
