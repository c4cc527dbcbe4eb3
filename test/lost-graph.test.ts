/**
 * LOST graph steps on synthetic key maps (no network): a known object is found as its 4-connected
 * component with the right box; the seed tie rule; candidates; multi-object; nearest upsampling.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { lostGraph, upsampleNearest } from "../dist/annotators/lost-graph.js";
import { python, tempDir, testPython } from "./helpers.js";

type Vec = readonly number[];

/** A key map: one feature vector per patch (row-major), from a per-cell painter. */
function keyMap(rows: number, cols: number, paint: (r: number, c: number) => Vec): Vec[] {
  const out: Vec[] = [];
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out.push(paint(r, c));
  return out;
}

/** Exact Gram matrix of integer features (test-side; the library gets it from the DINO module). */
function gramOf(keys: Vec[]): Float32Array {
  const n = keys.length;
  const a = new Float32Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      const ki = keys[i] as Vec;
      const kj = keys[j] as Vec;
      for (let d = 0; d < ki.length; d++) s += (ki[d] as number) * (kj[d] as number);
      a[i * n + j] = s;
    }
  }
  return a;
}

const BG: Vec = [1, 0, 0];
const OBJ: Vec = [-1, 1, 0];
const OBJ2: Vec = [-1, -1, 2]; // orthogonal to OBJ (dot 0, not > 0), negative with BG

function inRect(r: number, c: number, r0: number, r1: number, c0: number, c1: number): boolean {
  return r >= r0 && r <= r1 && c >= c0 && c <= c1;
}

function patchesOf(mask: Uint8Array): number[] {
  const out: number[] = [];
  mask.forEach((v, i) => {
    if (v) out.push(i);
  });
  return out;
}

describe("LOST on a synthetic key map with one known object", () => {
  const rows = 12;
  const cols = 16;
  // Object: rows 2..5, cols 3..7 (20 patches). Background everywhere else.
  const keys = keyMap(rows, cols, (r, c) => (inRect(r, c, 2, 5, 3, 7) ? OBJ : BG));
  const geometry = { rows, cols, width: cols * 16, height: rows * 16, patchSize: 16 };

  it("finds the object's component, seed, candidates and box", () => {
    const res = lostGraph(gramOf(keys), geometry);
    expect(res.objects).toHaveLength(1);
    const o = res.objects[0]!;
    // Every object patch has degree 19 (< 171 for background): the tie goes to the lowest index.
    expect(o.seed).toBe(2 * cols + 3);
    expect([o.seedRow, o.seedCol]).toEqual([2, 3]);
    expect(o.seedDegree).toBe(19);
    expect(o.potentials).toHaveLength(100);
    // Candidates: the 20 object patches (degree 19) in index order, then background in index order.
    const objectPatches = keys.map((k, i) => (k === OBJ ? i : -1)).filter((i) => i >= 0);
    expect(Array.from(o.potentials.subarray(0, 20))).toEqual(objectPatches);
    expect(Array.from(o.potentials.subarray(20, 23))).toEqual([0, 1, 2]);
    expect(Array.from(o.similars)).toEqual(objectPatches);
    expect(patchesOf(o.patches)).toEqual(objectPatches);
    expect(o.area).toBe(20);
    expect(o.box).toEqual([3 * 16, 2 * 16, 8 * 16, 6 * 16]);
    expect(patchesOf(res.grid)).toEqual(objectPatches);
  });

  it("keeps only the 4-connected component of the seed (diagonal neighbours are separate)", () => {
    // A second blob with the same features touching the object only diagonally at (6, 8).
    const keys2 = keyMap(rows, cols, (r, c) => (inRect(r, c, 2, 5, 3, 7) || inRect(r, c, 6, 8, 8, 10) ? OBJ : BG));
    const o = lostGraph(gramOf(keys2), geometry).objects[0]!;
    expect(o.seed).toBe(2 * cols + 3);
    expect(o.area).toBe(20);
    expect(o.box).toEqual([48, 32, 128, 96]);
    // Joined by one edge-adjacent patch, the blobs become a single component.
    const keys3 = keyMap(rows, cols, (r, c) =>
      inRect(r, c, 2, 5, 3, 7) || inRect(r, c, 6, 8, 8, 10) || (r === 5 && c === 8) ? OBJ : BG,
    );
    const joined = lostGraph(gramOf(keys3), geometry).objects[0]!;
    expect(joined.area).toBe(20 + 9 + 1);
    expect(joined.box).toEqual([48, 32, 176, 144]);
  });

  it("k limits the candidates; similars are the candidates positive with the seed", () => {
    const o = lostGraph(gramOf(keys), geometry, { kPatches: 5 }).objects[0]!;
    expect(Array.from(o.potentials)).toEqual([35, 36, 37, 38, 39]);
    expect(Array.from(o.similars)).toEqual([35, 36, 37, 38, 39]);
    // M > 0 on every object patch still (5 similar rows), so the component is the whole object.
    expect(o.area).toBe(20);
  });
});

describe("seed tie rule", () => {
  it("lowest degree first; among equal degrees the lowest patch index", () => {
    // Hand-made 1x5 Gram with one patch of degree 2 and four tied at degree 3.
    const pos: Array<[number, number]> = [
      [0, 1], [0, 2], [0, 4],
      [1, 2], [1, 4],
      [2, 3], [2, 0],
      [3, 2], [3, 4],
    ];
    const n = 5;
    const a = new Float32Array(n * n).fill(-1);
    for (let i = 0; i < n; i++) a[i * n + i] = 1;
    for (const [i, j] of pos) {
      a[i * n + j] = 1;
      a[j * n + i] = 1;
    }
    // Symmetric positives: 0:{1,2,4} 1:{0,2,4} 2:{0,1,3} 3:{2,4} 4:{0,1,3} -> degrees 3,3,3,2,3
    const degrees = [0, 1, 2, 3, 4].map((i) => [0, 1, 2, 3, 4].filter((j) => j !== i && (a[i * n + j] as number) > 0).length);
    expect(degrees).toEqual([3, 3, 3, 2, 3]);
    const res = lostGraph(a, { rows: 1, cols: 5, width: 80, height: 16, patchSize: 16 }, { kPatches: 5 });
    expect(Array.from(res.objects[0]!.potentials)).toEqual([3, 0, 1, 2, 4]);
    expect(res.objects[0]!.seed).toBe(3);

    // All degrees equal (every pair positive): the seed is patch 0 and the candidates keep index order.
    const all = new Float32Array(n * n).fill(1);
    const tie = lostGraph(all, { rows: 1, cols: 5, width: 80, height: 16, patchSize: 16 }, { kPatches: 3 });
    expect(tie.objects[0]!.seed).toBe(0);
    expect(Array.from(tie.objects[0]!.potentials)).toEqual([0, 1, 2]);
  });

  it("a later patch with a strictly lower degree wins over an earlier one", () => {
    const rows = 6;
    const cols = 6;
    // Object A (4 patches) at the top-left, object B (2 patches) bottom-right with its own feature.
    const keys = keyMap(rows, cols, (r, c) => (inRect(r, c, 0, 1, 0, 1) ? OBJ : inRect(r, c, 5, 5, 4, 5) ? OBJ2 : BG));
    const o = lostGraph(gramOf(keys), { rows, cols, width: 96, height: 96, patchSize: 16 }).objects[0]!;
    expect(o.seed).toBe(5 * cols + 4);
    expect(o.seedDegree).toBe(1);
    expect(patchesOf(o.patches)).toEqual([34, 35]);
    expect(o.box).toEqual([64, 80, 96, 96]);
  });
});

describe("boxes are clamped to the unpadded image", () => {
  it("a component touching the padded border is clamped to width/height", () => {
    // 3x4 grid of a 50x40 image (padded to 64x48); object in the last column and row.
    const keys = keyMap(3, 4, (r, c) => (c === 3 && r >= 1 ? OBJ : BG));
    const o = lostGraph(gramOf(keys), { rows: 3, cols: 4, width: 50, height: 40, patchSize: 16 }).objects[0]!;
    expect(patchesOf(o.patches)).toEqual([7, 11]);
    expect(o.box).toEqual([48, 16, 50, 40]);
  });
});

describe("multi-object extension", () => {
  const rows = 10;
  const cols = 10;
  const keys = keyMap(rows, cols, (r, c) => (inRect(r, c, 1, 3, 1, 4) ? OBJ : inRect(r, c, 6, 9, 5, 8) ? OBJ2 : BG));
  const geometry = { rows, cols, width: 160, height: 160, patchSize: 16 };

  it("objects: 1 is the published LOST (smallest object first)", () => {
    const res = lostGraph(gramOf(keys), geometry);
    expect(res.objects.map((o) => o.area)).toEqual([12]);
  });

  it("objects: 3 repeats LOST on the remaining patches", () => {
    const res = lostGraph(gramOf(keys), geometry, { objects: 3 });
    expect(res.objects.map((o) => o.id)).toEqual([1, 2, 3]);
    expect(res.objects[0]!.box).toEqual([16, 16, 80, 64]);
    expect(res.objects[1]!.area).toBe(16);
    expect(res.objects[1]!.box).toEqual([80, 96, 144, 160]);
    // Only background is left: it is the third "object" (everything remaining is connected).
    expect(res.objects[2]!.area).toBe(100 - 12 - 16);
    const counts = [0, 0, 0, 0];
    for (const v of res.grid) counts[v] = (counts[v] as number) + 1;
    expect(counts).toEqual([0, 12, 16, 72]);
  });

  it("stops early when no patches remain", () => {
    const tiny = keyMap(1, 2, () => BG);
    const res = lostGraph(gramOf(tiny), { rows: 1, cols: 2, width: 32, height: 16, patchSize: 16 }, { objects: 5 });
    expect(res.objects).toHaveLength(1);
    expect(res.objects[0]!.area).toBe(2);
  });
});

describe("argument errors", () => {
  const g = new Float32Array(4).fill(1);
  const geometry = { rows: 1, cols: 2, width: 32, height: 16, patchSize: 16 };
  it("wrong Gram size, bad k, bad objects", () => {
    expect(() => lostGraph(new Float32Array(3), geometry)).toThrow(expect.objectContaining({ code: "ERR_STCN_ARGUMENT" }));
    expect(() => lostGraph(g, geometry, { kPatches: 0 })).toThrow(/kPatches/);
    expect(() => lostGraph(g, geometry, { objects: 1.5 })).toThrow(/objects/);
    expect(() => lostGraph(g, geometry, { objects: 256 })).toThrow(/objects/);
  });
});

describe("upsampleNearest", () => {
  it("small cases by hand", () => {
    // 1x3 -> 1x4: src = floor((2x+1)*3/8) = 0, 1, 1, 2
    expect(Array.from(upsampleNearest(Uint8Array.from([1, 2, 3]), 1, 3, 1, 4))).toEqual([1, 2, 2, 3]);
    // 2x2 -> 4x4 blocks
    expect(Array.from(upsampleNearest(Uint8Array.from([1, 2, 3, 4]), 2, 2, 4, 4))).toEqual([
      1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4,
    ]);
  });

  it("equals PyTorch nearest-exact for the DAVIS grid 30x54 -> 480x854 and odd sizes", () => {
    const dir = tempDir("stcn-lost-up-");
    const cases: Array<[number, number, number, number]> = [
      [30, 54, 480, 854],
      [7, 3, 100, 37],
      [5, 9, 3, 4],
    ];
    cases.forEach(([rows, cols], i) => {
      const grid = new Uint8Array(rows * cols);
      for (let k = 0; k < grid.length; k++) grid[k] = (k * 7919) % 5;
      writeFileSync(join(dir, `g${i}.u8`), grid);
    });
    const script = testPython("lost-graph-nearest-exact.py");
    execFileSync(python, [script, JSON.stringify(cases), dir]);
    cases.forEach(([rows, cols, h, w], i) => {
      const grid = new Uint8Array(readFileSync(join(dir, `g${i}.u8`)));
      const expected = new Uint8Array(readFileSync(join(dir, `o${i}.u8`)));
      const got = upsampleNearest(grid, rows, cols, h, w);
      expect(got.length).toBe(h * w);
      let diff = 0;
      for (let k = 0; k < got.length; k++) if (got[k] !== expected[k]) diff++;
      expect(diff, `case ${rows}x${cols} -> ${h}x${w}`).toBe(0);
    });
    rmSync(dir, { recursive: true, force: true });
  });
});

describe("stcn annotate options (yargs, ts/cli/annotate.ts)", () => {
  it("parses the command line with the study's defaults", async () => {
    const { default: yargs } = await import("yargs");
    const { annotateOptions: lostAnnotateOptions } = await import("../dist/cli/annotate.js");
    const argv = await yargs(["--method", "lost-crf", "--model", "m.pt", "--frames", "f", "--out", "o.png", "--k-patches", "50"])
      .options(lostAnnotateOptions)
      .strict()
      .parseAsync();
    expect(argv).toMatchObject({ method: "lost-crf", model: "m.pt", frames: "f", out: "o.png", kPatches: 50, objects: 1, feature: "k", device: "cpu" });
    expect(argv).toMatchObject({ gtProb: 10 / 11, crfIterations: 10, sxyGaussian: 3, compatGaussian: 3, sxyBilateral: 40, srgb: 13, compatBilateral: 10 });
    expect(() =>
      yargs(["--method", "lost-crf-x", "--model", "m.pt", "--frames", "f", "--out", "o.png"])
        .options(lostAnnotateOptions)
        .exitProcess(false)
        .fail((msg) => {
          throw new Error(msg);
        })
        .parse(),
    ).toThrow(/Invalid values/);
  });
});
