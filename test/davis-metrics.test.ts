/**
 * J / F / statistics edge cases of the DAVIS toolkit, with expectations derived by hand from the
 * official definitions (docs/davis.md, "What is computed"), plus end-to-end evaluator cases on tiny synthetic DAVIS
 * roots (objects missing from results, short sequences, more than 256 frames) and a bit-exact check of
 * the numpy reductions against numpy itself.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { boundaryF, boundaryMap, boundaryRadius, dbStatistics, decayBinIds, evaluateDavis, regionJ } from "../dist/index.js";
import { evaluateFrame, FrameScratch, RowExtents } from "../dist/davis/metrics.js";
import { formatFixed3, npMean } from "../dist/davis/statistics.js";
import { encodeLabelPng } from "../dist/io/png.js";
import { python, tempDir, testPython } from "./helpers.js";

const W = 100;
const H = 100; // radius ceil(0.008 * 141.42) = 2

function mask(points: Array<[number, number]>, w = W, h = H): Uint8Array {
  const m = new Uint8Array(w * h);
  for (const [x, y] of points) m[y * w + x] = 1;
  return m;
}

function ones(map: Uint8Array, w = W): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  map.forEach((v, i) => {
    if (v) out.push([i % w, Math.floor(i / w)]);
  });
  return out;
}

describe("J (region similarity)", () => {
  it("empty GT and empty result score 1; one of them empty scores 0", () => {
    const empty = new Uint8Array(W * H);
    const one = mask([[10, 10]]);
    expect(regionJ(empty, empty, W, H)).toBe(1);
    expect(regionJ(empty, one, W, H)).toBe(0);
    expect(regionJ(one, empty, W, H)).toBe(0);
  });

  it("is intersection over union (one-pixel and overlapping objects)", () => {
    expect(regionJ(mask([[5, 5]]), mask([[5, 5]]), W, H)).toBe(1);
    expect(regionJ(mask([[5, 5]]), mask([[6, 5]]), W, H)).toBe(0);
    expect(regionJ(mask([[5, 5], [6, 5], [7, 5]]), mask([[6, 5], [7, 5], [8, 5], [9, 5]]), W, H)).toBe(2 / 5);
  });
});

describe("F (boundary)", () => {
  it("tolerance radius is ceil(0.008 * diagonal)", () => {
    expect(boundaryRadius(854, 480)).toBe(8);
    expect(boundaryRadius(910, 480)).toBe(9);
    expect(boundaryRadius(640, 480)).toBe(7);
    expect(boundaryRadius(100, 100)).toBe(2);
    expect(boundaryRadius(100, 100, 3)).toBe(3);
  });

  it("boundary of a one-pixel object is the 2x2 block up-left of it; at the image borders the seg2bmap rules apply", () => {
    expect(ones(boundaryMap(mask([[50, 50]]), W, H))).toEqual([
      [49, 49],
      [50, 49],
      [49, 50],
      [50, 50],
    ]);
    // Top-left corner: only the pixel itself.
    expect(ones(boundaryMap(mask([[0, 0]]), W, H))).toEqual([[0, 0]]);
    // Bottom-right corner: the corner itself is never boundary.
    expect(ones(boundaryMap(mask([[W - 1, H - 1]]), W, H))).toEqual([
      [W - 2, H - 2],
      [W - 1, H - 2],
      [W - 2, H - 1],
    ]);
    // A full last column: its boundary is the column before it (last column compares downwards only).
    const column = mask(Array.from({ length: H }, (_, y) => [W - 1, y] as [number, number]));
    expect(ones(boundaryMap(column, W, H))).toEqual(Array.from({ length: H }, (_, y) => [W - 2, y]));
    // A full image has no boundary at all.
    expect(ones(boundaryMap(new Uint8Array(W * H).fill(1), W, H))).toEqual([]);
  });

  it("precision/recall special cases: empty/empty = 1, no result boundary = 0, no GT boundary = 0", () => {
    const empty = new Uint8Array(W * H);
    const one = mask([[10, 10]]);
    expect(boundaryF(empty, empty, W, H)).toMatchObject({ f: 1, precision: 1, recall: 1 });
    expect(boundaryF(one, empty, W, H)).toMatchObject({ f: 0, precision: 1, recall: 0, nFg: 0, nGt: 4 });
    expect(boundaryF(empty, one, W, H)).toMatchObject({ f: 0, precision: 0, recall: 1, nFg: 4, nGt: 0 });
    // A full-image GT has no boundary: against an empty result J = 0 but F = 1 (toolkit behaviour).
    const full = new Uint8Array(W * H).fill(1);
    expect(regionJ(full, empty, W, H)).toBe(0);
    expect(boundaryF(full, empty, W, H).f).toBe(1);
  });

  it("matches within the disk x^2 + y^2 <= r^2, not a square", () => {
    // r = 2. Shift by 1 px: every boundary pixel is within reach.
    expect(boundaryF(mask([[50, 50]]), mask([[51, 50]]), W, H).f).toBe(1);
    // Shift by 3 px: boundary columns {49,50} vs {52,53}: only 50<->52 (distance 2) match.
    expect(boundaryF(mask([[50, 50]]), mask([[53, 50]]), W, H)).toMatchObject({ precision: 0.5, recall: 0.5, f: 0.5 });
    // Diagonal shift (2, 2): blocks {49,50}^2 vs {51,52}^2; only (50,50)<->(51,51) (1+1 <= 4) match;
    // (50,50)<->(52,51) is 4+1 > 4 although it lies inside the 5x5 square.
    expect(boundaryF(mask([[50, 50]]), mask([[52, 52]]), W, H)).toMatchObject({ precision: 0.25, recall: 0.25, f: 0.25 });
    // Far away: nothing matches, F = 0.
    expect(boundaryF(mask([[10, 10]]), mask([[80, 80]]), W, H)).toMatchObject({ precision: 0, recall: 0, f: 0 });
  });

  it("the multi-object frame scorer equals the per-mask functions (void, labels above the object count, border objects)", () => {
    const w = 37;
    const h = 23;
    const gt = new Uint8Array(w * h);
    const res = new Uint8Array(w * h);
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const paint = (m: Uint8Array, label: number, x0: number, y0: number, x1: number, y1: number) => {
      for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) m[y * w + x] = label;
    };
    paint(gt, 1, 0, 0, 10, 8); // touches top/left borders
    paint(gt, 2, 25, 12, w - 1, h - 1); // touches bottom/right borders
    paint(gt, 255, 12, 3, 15, 20); // void
    paint(gt, 4, 3, 15, 6, 18); // above the object count: ignored
    paint(res, 1, 1, 0, 12, 9);
    for (let i = 0; i < 60; i++) res[Math.floor(rand() * w * h)] = 2;
    paint(res, 3, 30, 0, 30, 0); // one pixel of object 3, absent from the GT frame
    const j = new Float64Array(3);
    const f = new Float64Array(3);
    evaluateFrame(gt, res, w, h, 3, j, f, new FrameScratch());
    for (let k = 1; k <= 3; k++) {
      const g = gt.map((v) => (v === k ? 1 : 0));
      const r = res.map((v) => (v === k ? 1 : 0));
      expect(j[k - 1]).toBe(regionJ(g, r, w, h));
      expect(f[k - 1]).toBe(boundaryF(g, r, w, h).f);
    }
    expect(j[2]).toBe(0);
    expect(f[2]).toBe(0);
    expect(() => evaluateFrame(gt, res, w, h, 2, j, f, new FrameScratch())).toThrow(/label 3/);
  });
});

describe("F against a brute-force numpy port of f_measure (full-image seg2bmap and disk dilation)", () => {
  it("random blobs at several sizes give the same per-frame J and F", () => {
    const sizes: Array<[number, number]> = [
      [64, 48],
      [97, 61],
      [320, 180],
      [854, 480],
    ];
    let seed = 3;
    const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    const cases: Array<{ w: number; h: number; gt: number[]; res: number[] }> = [];
    for (const [w, h] of sizes) {
      for (let c = 0; c < 4; c++) {
        const gt = new Uint8Array(w * h);
        const res = new Uint8Array(w * h);
        // A few ellipses per mask, the result a perturbed copy, sometimes touching the borders.
        const blobs = 1 + Math.floor(rand() * 3);
        for (let b = 0; b < blobs; b++) {
          const cx = rand() * w;
          const cy = rand() * h;
          const rx = 2 + rand() * w * 0.3;
          const ry = 2 + rand() * h * 0.3;
          const dx = (rand() - 0.5) * 12;
          const dy = (rand() - 0.5) * 12;
          for (let y = 0; y < h; y++) {
            for (let x = 0; x < w; x++) {
              if (((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1) gt[y * w + x] = 1;
              if (((x - cx - dx) / (rx * 0.9)) ** 2 + ((y - cy - dy) / (ry * 1.1)) ** 2 <= 1) res[y * w + x] = 1;
            }
          }
        }
        for (let i = 0; i < 30; i++) res[Math.floor(rand() * w * h)] ^= 1;
        cases.push({ w, h, gt: Array.from(gt), res: Array.from(res) });
      }
    }
    const script = testPython("davis-metrics-toolkit-jf.py");
    const reply = JSON.parse(execFileSync(python, [script], { input: JSON.stringify(cases), encoding: "utf8", maxBuffer: 1 << 28 })) as string[][];
    cases.forEach((c, i) => {
      const gt = Uint8Array.from(c.gt);
      const res = Uint8Array.from(c.res);
      const [j, f] = (reply[i] as string[]).map(Number) as [number, number];
      expect(regionJ(gt, res, c.w, c.h), `J case ${i} (${c.w}x${c.h})`).toBe(j);
      expect(boundaryF(gt, res, c.w, c.h).f, `F case ${i} (${c.w}x${c.h})`).toBe(f);
      const jf = new Float64Array(1);
      const ff = new Float64Array(1);
      evaluateFrame(gt, res, c.w, c.h, 1, jf, ff, new FrameScratch());
      expect([jf[0], ff[0]]).toEqual([j, f]);
    });
  });
});

describe("row extents (the scan window of the frame scorer)", () => {
  it("first/last non-zero column per row, aligned (word scan) and unaligned buffers", () => {
    let seed = 5;
    const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    for (let t = 0; t < 2000; t++) {
      const w = 1 + Math.floor(rand() * 23);
      const h = 1 + Math.floor(rand() * 5);
      const offset = t % 4;
      const labels = new Uint8Array(w * h + offset).subarray(offset);
      const density = rand() * 0.3;
      for (let i = 0; i < labels.length; i++) if (rand() < density) labels[i] = 1 + Math.floor(rand() * 255);
      const e = new RowExtents();
      e.compute(labels, w, h);
      for (let y = 0; y < h; y++) {
        let min = w;
        let max = -1;
        for (let x = 0; x < w; x++) {
          if (labels[y * w + x]) {
            if (min === w) min = x;
            max = x;
          }
        }
        expect([e.min[y], e.max[y]], `case ${t} row ${y}`).toEqual([min, max]);
      }
    }
  });
});

describe("db_statistics", () => {
  it("decay bins: round(linspace(1, n, 5) + 1e-10) - 1 as uint8", () => {
    expect(decayBinIds(1)).toEqual([0, 0, 0, 0, 0]);
    expect(decayBinIds(2)).toEqual([0, 0, 1, 1, 1]);
    expect(decayBinIds(3)).toEqual([0, 1, 1, 2, 2]);
    expect(decayBinIds(4)).toEqual([0, 1, 2, 2, 3]);
    expect(decayBinIds(10)).toEqual([0, 2, 5, 7, 9]);
    expect(decayBinIds(48)).toEqual([0, 12, 24, 35, 47]);
    // > 256 values: the uint8 cast wraps.
    expect(decayBinIds(300)).toEqual([0, 75, 150, 224, 43]);
    expect(decayBinIds(400)).toEqual([0, 100, 200, 43, 143]);
  });

  it("sequences shorter than 5 evaluated frames", () => {
    expect(dbStatistics([0.7])).toEqual({ mean: 0.7, recall: 1, decay: 0 });
    // n = 2: bins [v0], [v0, v1], [v1], [v1].
    expect(dbStatistics([0.9, 0.3])).toEqual({ mean: (0.9 + 0.3) / 2, recall: 0.5, decay: 0.9 - 0.3 });
    // n = 4: bin 0 = v[0:2], bin 3 = v[2:4]; recall is strict (> 0.5).
    expect(dbStatistics([1, 0.5, 0.25, 0])).toEqual({ mean: 1.75 / 4, recall: 0.25, decay: 0.75 - 0.125 });
  });

  it("the 4 bins overlap by one frame (n = 10: bins 0..2 and 7..9)", () => {
    const v = [1, 1, 1, 0, 0, 0, 0, 0.5, 0.5, 0.5];
    expect(dbStatistics(v).decay).toBe(1 - 0.5);
    const w = [1, 1, 0.4, 0, 0, 0, 0, 0.2, 0.5, 0.5];
    expect(dbStatistics(w).decay).toBeCloseTo(2.4 / 3 - 1.2 / 3, 15);
  });

  it("more than 256 values: wrapped bins make D NaN (n = 300) or shifted (n = 400)", () => {
    const v300 = Array.from({ length: 300 }, (_, i) => (i % 7) / 7);
    expect(Number.isNaN(dbStatistics(v300).decay)).toBe(true);
    const v400 = Array.from({ length: 400 }, (_, i) => (i < 50 ? 1 : 0));
    // bin 0 = v[0:101] (50 ones), bin 3 = v[43:144] (7 ones).
    expect(dbStatistics(v400).decay).toBeCloseTo(50 / 101 - 7 / 101, 15);
  });

  it("matches numpy bit for bit (pairwise sums, linspace, uint8 wrap)", () => {
    const sizes = [1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 64, 127, 128, 129, 255, 256, 257, 300, 343, 400, 1030];
    let seed = 1;
    const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    const cases = sizes.map((n) => Array.from({ length: n }, () => rand()));
    const script = testPython("davis-metrics-db-statistics.py");
    const reply = JSON.parse(execFileSync(python, [script], { input: JSON.stringify(cases), encoding: "utf8" })) as {
      stats: string[][];
      ids: number[][];
    };
    const num = (s: string) => (s === "nan" ? Number.NaN : Number(s));
    cases.forEach((c, i) => {
      const ours = dbStatistics(c);
      const [m, o, d, mean] = (reply.stats[i] as string[]).map(num) as [number, number, number, number];
      expect(ours.mean, `M n=${c.length}`).toBe(m);
      expect(ours.recall, `R n=${c.length}`).toBe(o);
      expect(ours.decay, `D n=${c.length}`).toBe(d);
      expect(npMean(c), `mean n=${c.length}`).toBe(mean);
    });
    reply.ids.forEach((ids, i) => expect(decayBinIds(i + 1), `ids n=${i + 1}`).toEqual(ids));
  });

  it("CSV numbers print as Python '%.3f' (ties to even on the exact value; NaN as an empty field)", () => {
    expect(formatFixed3(0.0625)).toBe("0.062");
    expect(formatFixed3(0.1875)).toBe("0.188");
    expect(formatFixed3(0.5625)).toBe("0.562");
    expect(formatFixed3(-0.3125)).toBe("-0.312");
    expect(formatFixed3(0.0005)).toBe("0.001"); // 0.0005 is slightly above the tie in binary
    expect(formatFixed3(1)).toBe("1.000");
    expect(formatFixed3(-0.0001)).toBe("-0.000");
    expect(formatFixed3(Number.NaN)).toBe("");
  });
});

/** Writes a DAVIS root with one sequence per entry and a results folder; returns both paths. */
function tinyRoot(sequences: Record<string, { gt: Uint8Array[]; res: Uint8Array[] }>, w: number, h: number): { root: string; results: string } {
  const root = tempDir("stcn-davis-tiny-");
  const results = join(root, "results");
  for (const [name, { gt, res }] of Object.entries(sequences)) {
    for (const dir of ["Annotations/480p", "JPEGImages/480p"]) mkdirSync(join(root, dir, name), { recursive: true });
    mkdirSync(join(results, name), { recursive: true });
    gt.forEach((m, t) => {
      const id = String(t).padStart(5, "0");
      writeFileSync(join(root, "Annotations/480p", name, `${id}.png`), encodeLabelPng(m, w, h));
      writeFileSync(join(root, "JPEGImages/480p", name, `${id}.jpg`), "");
      writeFileSync(join(results, name, `${id}.png`), encodeLabelPng(res[t] as Uint8Array, w, h));
    });
  }
  mkdirSync(join(root, "ImageSets/2017"), { recursive: true });
  writeFileSync(join(root, "ImageSets/2017/val.txt"), `${Object.keys(sequences).join("\n")}\n`);
  return { root, results };
}

describe("evaluator edge cases on synthetic roots", () => {
  const w = 16;
  const h = 12;
  const frame = (label: number, x0: number, y0: number, x1: number, y1: number, base?: Uint8Array) => {
    const m = base ? Uint8Array.from(base) : new Uint8Array(w * h);
    for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) m[y * w + x] = label;
    return m;
  };

  it("objects missing from the results are zero-filled; first and last frames are not read", async () => {
    const two = frame(2, 9, 2, 13, 8, frame(1, 1, 1, 4, 5));
    const onlyOne = frame(1, 1, 1, 4, 5);
    const gt = [two, two, frame(1, 1, 1, 4, 5), two];
    // Result frames 0 and 3 hold label 7 (more objects than GT): ignored because those frames are dropped.
    const junk = new Uint8Array(w * h).fill(7);
    const { root, results } = tinyRoot({ a: { gt, res: [junk, onlyOne, onlyOne, junk] } }, w, h);
    const e = await evaluateDavis({ davisRoot: root, resultsPath: results, out: false, workers: 0 });
    const [o1, o2] = e.objects;
    expect(Array.from(o1?.j ?? [])).toEqual([1, 1]);
    expect(Array.from(o1?.f ?? [])).toEqual([1, 1]);
    // Object 2 is missing from the results: 0 where the GT has it, 1 where the GT is empty too.
    expect(Array.from(o2?.j ?? [])).toEqual([0, 1]);
    expect(Array.from(o2?.f ?? [])).toEqual([0, 1]);
    expect(o2).toMatchObject({ jMean: 0.5, jRecall: 0.5, jDecay: -1 });
    expect(e.global["J-Mean"]).toBe(0.75);
  });

  it("a sequence of 3 frames evaluates 1 frame (D = 0); fewer than 3 is refused", async () => {
    const obj = frame(1, 2, 2, 6, 6);
    const half = frame(1, 2, 2, 6, 3);
    const { root, results } = tinyRoot({ s3: { gt: [obj, obj, obj], res: [obj, half, obj] } }, w, h);
    const e = await evaluateDavis({ davisRoot: root, resultsPath: results, out: false, workers: 0 });
    expect(e.objects[0]).toMatchObject({ jMean: 10 / 25, jRecall: 0, jDecay: 0 });
    const short = tinyRoot({ s2: { gt: [obj, obj], res: [obj, obj] } }, w, h);
    await expect(evaluateDavis({ davisRoot: short.root, resultsPath: short.results, out: false })).rejects.toThrow(/sequence s2: 2 annotated frame\(s\).*at least 3/);
  });

  it("more than 256 evaluated frames: the wrapped decay bins give an empty J-Decay field, as the toolkit", async () => {
    const T = 302; // 300 evaluated frames
    const gt: Uint8Array[] = [];
    const res: Uint8Array[] = [];
    for (let t = 0; t < T; t++) {
      gt.push(frame(1, 3, 3, 9, 8));
      res.push(t % 3 === 0 ? frame(1, 3, 3, 9, 8) : frame(1, 4, 3, 9, 8));
    }
    const { root, results } = tinyRoot({ long: { gt, res } }, w, h);
    const out = tempDir("stcn-davis-long-");
    const e = await evaluateDavis({ davisRoot: root, resultsPath: results, out, workers: 2 });
    expect(e.objects[0]?.j.length).toBe(300);
    expect(Number.isNaN(e.global["J-Decay"])).toBe(true);
    expect(Number.isNaN(e.global["F-Decay"])).toBe(true);
    const fields = e.globalCsv.trim().split("\n")[1]?.split(",");
    expect(fields?.[3]).toBe("");
    expect(fields?.[6]).toBe("");
    expect(fields?.[1]).toBe(formatFixed3(e.global["J-Mean"]));
  });
});
