/**
 * Something-Else boxes -> DAVIS-like root. A small annotations.json written here goes through
 * `stcn boxes-to-davis`; the masks must follow the notebook's fill order (list order, later boxes
 * overwrite, int() truncation, Python slicing) and PIL's nearest resize to 480p, checked against
 * numpy + PIL run on the same file, then evaluate with the DAVIS evaluator.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { boxesToDavis, boxMask, davis480pSize, evaluateDavis, parseSomethingElseAnnotations, pilNearestResize } from "../dist/index.js";
import { readLabelPng } from "../dist/io/png.js";
import { python, repoRoot, tempDir, testPython } from "./helpers.js";

const cli = join(repoRoot, "dist", "cli.js");
const box = (x1: number, y1: number, x2: number, y2: number) => ({ box2d: { x1, x2, y1, y2 }, category: "thing", gt_annotation: "object 0", standard_category: "0000" });

/** Three videos, integer-like ids in non-sorted order (the ImageSets list must keep file order). */
const annotations = {
  "151201": [
    { name: "151201/0001.jpg", labels: [box(10.7, 20.2, 200.9, 150.5), box(150, 100, 300.2, 230.99)], gt_placeholders: ["a", "b"], nr_instances: 2 },
    { name: "151201/0002.jpg", labels: [box(150, 100, 300.2, 230.99), box(10.7, 20.2, 200.9, 150.5)], gt_placeholders: ["a", "b"], nr_instances: 2 },
    { name: "151201/0003.jpg", labels: [box(-5.5, -3.2, 60, 40), box(400, 200, 999, 999), box(100, 50, 101.9, 60), box(120, 50, 120.9, 60)], nr_instances: 3 },
    { name: "151201/0004.jpg", labels: [box(0, 0, 427, 240)], nr_instances: 1 },
  ],
  "2": [
    { name: "2/0001.jpg", labels: [box(30, 30, 90, 80)] },
    { name: "2/0002.jpg", labels: [] },
    { name: "2/0003.jpg", labels: [box(31.5, 29.9, 92, 82), box(-300, 10, -250, 20)] },
  ],
  "862": [
    { name: "862/0001.jpg", labels: [box(1, 1, 5, 5), box(3, 3, 9, 9), box(2, 2, 4, 4), box(8, 0, 10, 2)] },
    { name: "862/0002.jpg", labels: [box(1, 1, 5, 5)] },
    { name: "862/0003.jpg", labels: [box(1, 1, 5, 5)] },
  ],
};

/** The JSON text with videos in this order (JSON.stringify would put integer-like keys first, sorted). */
const annotationsText = `{${["151201", "2", "862"].map((k) => `${JSON.stringify(k)}: ${JSON.stringify(annotations[k as keyof typeof annotations])}`).join(",\n")}}`;

describe("Something-Else box masks", () => {
  it("fill order: list order, later boxes overwrite, int() truncation, exclusive ends, Python slices", () => {
    const labels = [box(1.9, 0.5, 6.2, 3.99), box(4, 2, 8, 5)];
    const m = boxMask(labels, 10, 6);
    const rows = Array.from({ length: 6 }, (_, y) => Array.from(m.slice(y * 10, y * 10 + 10)).join(""));
    expect(rows).toEqual(["0111110000", "0111110000", "0111222200", "0000222200", "0000222200", "0000000000"]);
    // Negative coordinates are Python slice indices from the end: x1 = int(-3.5) = -3 -> column 7.
    expect(Array.from(boxMask([box(-3.5, 0, 10, 1)], 10, 2))).toEqual([0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    // Identity is the list position, not gt_annotation.
    expect(Array.from(boxMask([box(0, 0, 1, 1), box(1, 0, 2, 1)], 2, 1))).toEqual([1, 2]);
    expect(davis480pSize(427, 240)).toEqual({ width: 854, height: 480 });
    expect(davis480pSize(176, 100)).toEqual({ width: 844, height: 480 });
  });

  it("pilNearestResize equals PIL's Image.resize(NEAREST) on P images, up and down", () => {
    const sizes: Array<[number, number, number, number]> = [
      [427, 240, 854, 480],
      [176, 100, 844, 480],
      [640, 360, 853, 480],
      [300, 500, 288, 480],
      [1280, 720, 853, 480],
      [7, 3, 1120, 480],
    ];
    const cases = sizes.map(([w, h, ow, oh], c) => ({ w, h, ow, oh, data: Array.from({ length: w * h }, (_, i) => (i * 7 + c * 13 + ((i / w) | 0)) % 251) }));
    const script = testPython("davis-boxes-to-davis-pil-nearest.py");
    const reply = JSON.parse(execFileSync(python, [script], { input: JSON.stringify(cases), encoding: "utf8", maxBuffer: 1 << 28 })) as number[][];
    cases.forEach((c, i) => {
      const ours = pilNearestResize(Uint8Array.from(c.data), c.w, c.h, c.ow, c.oh);
      const ref = reply[i] as number[];
      let diff = 0;
      for (let k = 0; k < ref.length; k++) if (ours[k] !== ref[k]) diff++;
      expect(diff, `${c.w}x${c.h} -> ${c.ow}x${c.oh}`).toBe(0);
    });
  });

  it("stcn boxes-to-davis writes the notebook's masks (checked with numpy + PIL), and evaluates as a DAVIS root", async () => {
    const dir = tempDir("stcn-boxes-");
    const json = join(dir, "annotations.json");
    writeFileSync(json, annotationsText);
    const out = join(dir, "Something480p");
    const run = spawnSync(process.execPath, [cli, "boxes-to-davis", "--annotations", json, "--out", out, "--size", "427x240"], { encoding: "utf8" });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain("151201: 4 box mask(s), 427x240 -> 854x480");
    expect(readFileSync(join(out, "ImageSets/2017/val.txt"), "utf8")).toBe("151201\n2\n862\n");
    expect(readdirSync(join(out, "Annotations/480p/151201"))).toEqual(["00000.png", "00001.png", "00002.png", "00003.png"]);
    expect(readdirSync(join(out, "JPEGImages/480p/2"))).toEqual(["00000.jpg", "00001.jpg", "00002.jpg"]);

    // Reference: the notebook's recipe with numpy slicing and PIL (mode P, DAVIS palette, resize).
    const script = testPython("davis-boxes-to-davis-notebook.py");
    const reference = JSON.parse(execFileSync(python, [script, json], { encoding: "utf8", maxBuffer: 1 << 28 })) as Record<string, number[]>;
    expect(Object.keys(reference).length).toBe(10);
    for (const [key, values] of Object.entries(reference)) {
      const [vid, stem] = key.split("/") as [string, string];
      const ours = await readLabelPng(join(out, "Annotations/480p", vid, `${stem}.png`));
      expect([ours.width, ours.height]).toEqual([854, 480]);
      expect(ours.palette?.[1]).toEqual([128, 0, 0]);
      let diff = 0;
      for (let i = 0; i < values.length; i++) if (ours.data[i] !== values[i]) diff++;
      expect(diff, key).toBe(0);
    }
    // Overwrite order is visible: in frame 1 box 2 covers the overlap, in frame 2 (reversed list) box 2 is the first box.
    const f0 = await readLabelPng(join(out, "Annotations/480p/151201/00000.png"));
    const f1 = await readLabelPng(join(out, "Annotations/480p/151201/00001.png"));
    const overlap = 2 * 120 * 854 + 2 * 170; // original (170, 120), inside both boxes
    expect([f0.data[overlap], f1.data[overlap]]).toEqual([2, 2]);
    const onlyFirst = 2 * 40 * 854 + 2 * 50; // original (50, 40): first box of frame 1, second of frame 2
    expect([f0.data[onlyFirst], f1.data[onlyFirst]]).toEqual([1, 2]);

    // The same evaluator scores boxes against boxes: the GT as results gives J&F = 1 ...
    const evaluation = await evaluateDavis({ davisRoot: out, resultsPath: join(out, "Annotations/480p"), sequences: ["2", "862"], out: dir, workers: 0 });
    expect(evaluation.global["J&F-Mean"]).toBe(1);
    expect(evaluation.objects.map((o) => o.name)).toEqual(["2_1", "862_1", "862_2", "862_3", "862_4"]);
    // ... while in 151201 a third box appears after a 2-box first frame: a 3rd object the protocol refuses.
    await expect(evaluateDavis({ davisRoot: out, resultsPath: join(out, "Annotations/480p"), out: false })).rejects.toThrow(
      /sequence 151201, frame 00002: In your PNG files there is an index higher than the number of objects/,
    );
  });

  it("with --frames: sizes come from the original frames and 480p JPEGs are written", async () => {
    const dir = tempDir("stcn-boxes-frames-");
    const frames = join(dir, "frames");
    mkdirSync(join(frames, "2"), { recursive: true });
    for (const rec of annotations["2"]) {
      await sharp({ create: { width: 320, height: 240, channels: 3, background: { r: 200, g: 30, b: 30 } } }).jpeg().toFile(join(frames, rec.name));
    }
    const json = join(dir, "annotations.json");
    writeFileSync(json, annotationsText);
    const out = join(dir, "root");
    const result = await boxesToDavis({ annotations: json, out, frames, videos: ["2"] });
    expect(result.videos).toEqual([{ video: "2", frames: 3, width: 640, height: 480, originalWidth: 320, originalHeight: 240 }]);
    const meta = await sharp(join(out, "JPEGImages/480p/2/00002.jpg")).metadata();
    expect([meta.width, meta.height]).toEqual([640, 480]);
    const m = await readLabelPng(join(out, "Annotations/480p/2/00000.png"));
    const expected = pilNearestResize(boxMask(annotations["2"][0]?.labels ?? [], 320, 240), 320, 240, 640, 480);
    expect(Buffer.from(m.data).equals(Buffer.from(expected))).toBe(true);
    // A missing frame is named.
    await expect(boxesToDavis({ annotations: json, out: join(dir, "other"), frames, videos: ["862"] })).rejects.toThrow(/cannot read frame .*862\/0001\.jpg/);
  });

  it("refuses malformed annotations with the video and record named, and non-empty output folders", async () => {
    expect(() => parseSomethingElseAnnotations('{"5": [{"name": "5/0001.jpg", "labels": [{"box2d": {"x1": 1}}]}]}')).toThrow(/video 5, record 0 .*label 0 has no numeric box2d/);
    expect(() => parseSomethingElseAnnotations('{"5": [{"name": "5/first.jpg", "labels": []}]}')).toThrow(/video 5, record 0: name "5\/first.jpg"/);
    expect(() => parseSomethingElseAnnotations("[1, 2]")).toThrow(/object keyed by video id/);
    const dir = tempDir("stcn-boxes-busy-");
    writeFileSync(join(dir, "annotations.json"), annotationsText);
    await expect(boxesToDavis({ annotations: join(dir, "annotations.json"), out: dir, size: { width: 427, height: 240 } })).rejects.toThrow(/not empty/);
  });
});
