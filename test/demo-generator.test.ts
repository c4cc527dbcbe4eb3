/** The procedural video generator behind `stcn demo` and the demo model's training data. */
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { generateClip, generateDavisRoot } from "../dist/demo/generator.js";
import { parseSeeds } from "../dist/demo/seeds.js";
import { readLabelPng } from "../dist/io/png.js";
import { readRgb } from "../dist/io/image.js";
import { tempDir } from "./helpers.js";

function areas(labels: Uint8Array, k: number): number[] {
  const a = new Array<number>(k + 1).fill(0);
  for (const l of labels) a[l] = (a[l] ?? 0) + 1;
  return a;
}

describe("generateClip", () => {
  it("is a pure function of its options", () => {
    const a = generateClip({ seed: 123, frames: 6 });
    const b = generateClip({ seed: 123, frames: 6 });
    expect(a.objects).toBe(b.objects);
    for (let t = 0; t < 6; t++) {
      expect(Buffer.from(a.frames[t]!).equals(Buffer.from(b.frames[t]!))).toBe(true);
      expect(Buffer.from(a.masks[t]!).equals(Buffer.from(b.masks[t]!))).toBe(true);
    }
    const c = generateClip({ seed: 124, frames: 6 });
    expect(Buffer.from(a.frames[0]!).equals(Buffer.from(c.frames[0]!))).toBe(false);
  });

  it("draws 1-4 labelled objects, all clearly visible on frame 0, with labels 1..K only", () => {
    const counts = new Set<number>();
    for (let seed = 0; seed < 24; seed++) {
      const clip = generateClip({ seed, frames: 3 });
      counts.add(clip.objects);
      expect(clip.objects).toBeGreaterThanOrEqual(1);
      expect(clip.objects).toBeLessThanOrEqual(4);
      expect(clip.frames).toHaveLength(3);
      expect(clip.frames[0]!.length).toBe(clip.width * clip.height * 3);
      const a = areas(clip.masks[0]!, clip.objects);
      expect(a.length).toBe(clip.objects + 1); // no label above K
      for (let k = 1; k <= clip.objects; k++) expect(a[k]).toBeGreaterThanOrEqual(0.006 * clip.width * clip.height);
      for (const m of clip.masks) expect(Math.max(...m)).toBeLessThanOrEqual(clip.objects);
    }
    expect(counts.size).toBeGreaterThanOrEqual(3);
  });

  it("moves objects and the camera, with occlusions and distractors over a set of clips", () => {
    let occluded = 0;
    let distractors = 0;
    for (let seed = 0; seed < 20; seed++) {
      const clip = generateClip({ seed, frames: 30 });
      distractors += clip.distractors;
      // Motion: masks change between first and last frame; background pixels change (camera).
      expect(Buffer.from(clip.masks[0]!).equals(Buffer.from(clip.masks[29]!))).toBe(false);
      // Occlusion: an object's visible area drops by > 30% between consecutive frames at some point.
      const per = clip.masks.map((m) => areas(m, clip.objects));
      for (let t = 1; t < 30 && clip.objects > 1; t++) {
        for (let k = 1; k <= clip.objects; k++) {
          if ((per[t]![k] ?? 0) < 0.7 * (per[t - 1]![k] ?? 0)) {
            occluded++;
            t = 30;
            break;
          }
        }
      }
    }
    expect(distractors).toBeGreaterThan(0);
    expect(occluded).toBeGreaterThan(0);
  });

  it("refuses bad options with ERR_STCN_ARGUMENT", () => {
    expect(() => generateClip({ seed: -1 })).toThrow(/seed must be an integer/);
    expect(() => generateClip({ seed: 1, objects: 5 })).toThrow(/objects must be an integer from 1 to 4/);
    expect(() => generateClip({ seed: 1, frames: 1 })).toThrow(/frames must be/);
    expect(() => parseSeeds("5-3")).toThrow(/empty/);
    expect(() => parseSeeds("a,b")).toThrow(/seeds must be/);
    expect(parseSeeds("3-5")).toEqual([3, 4, 5]);
    expect(parseSeeds("7,9")).toEqual([7, 9]);
  });
});

describe("generateDavisRoot", () => {
  it("writes the DAVIS layout: JPEG frames, palette masks, ImageSets list", async () => {
    const root = tempDir("stcn-demo-gen-");
    const names = await generateDavisRoot({ root, seeds: [5, 6], set: "val", frames: 4 });
    expect(names).toEqual(["synth-000005", "synth-000006"]);
    expect(readFileSync(join(root, "ImageSets", "2017", "val.txt"), "utf8")).toBe("synth-000005\nsynth-000006\n");
    const clip = generateClip({ seed: 6, frames: 4 });
    const imgDir = join(root, "JPEGImages", "480p", "synth-000006");
    const annDir = join(root, "Annotations", "480p", "synth-000006");
    expect(readdirSync(imgDir).sort()).toEqual(["00000.jpg", "00001.jpg", "00002.jpg", "00003.jpg"]);
    for (let t = 0; t < 4; t++) {
      const mask = await readLabelPng(join(annDir, `0000${t}.png`));
      expect(mask.palette?.[1]).toEqual([128, 0, 0]);
      expect(Buffer.from(mask.data).equals(Buffer.from(clip.masks[t]!))).toBe(true);
      const rgb = await readRgb(join(imgDir, `0000${t}.jpg`));
      expect([rgb.width, rgb.height]).toEqual([clip.width, clip.height]);
      // JPEG at quality 95: close to the rendered pixels.
      let err = 0;
      for (let i = 0; i < rgb.data.length; i++) err += Math.abs(rgb.data[i]! - clip.frames[t]![i]!);
      expect(err / rgb.data.length).toBeLessThan(6);
    }
    expect(existsSync(join(root, "JPEGImages", "480p", "synth-000005", "00003.jpg"))).toBe(true);
  });
});
