/**
 * Dense CRF (ts/crf.ts, cpp/dense_crf.cpp, cpp/permutohedral.cpp):
 *  1) zero pairwise weight -> Q = softmax(-U);
 *  2) the lattice filter of a constant is that constant after normalisation;
 *  3) on small inputs the lattice filter is close to the exact Gaussian filter (tolerances below);
 *  4) the reference cases of ../shared/data/crf agree with the reference densecrf;
 *  5) bad inputs give clear errors (library and CLI).
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  STUDY_CRF,
  denseCrf,
  isStcnError,
  permutohedralFilter,
  refineMaskWithCrf,
  unaryFromEnergy,
  unaryFromLabels,
  unaryFromProbabilities,
} from "../dist/index.js";
import { readRgb } from "../dist/io/image.js";
import { native } from "../dist/native.js";
import { encodeGreyPng, readLabelPng } from "../dist/io/png.js";
import { repoRoot, tempDir, dataPath, recordDrift } from "./helpers.js";

const cli = join(repoRoot, "dist", "cli.js");
const crfData = dataPath("crf");

/** Deterministic pseudo-random numbers in [0, 1). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

function randomImage(width: number, height: number, seed: number): { data: Uint8Array; width: number; height: number } {
  const r = rng(seed);
  const data = new Uint8Array(width * height * 3);
  // Two colour regions plus noise, so the bilateral kernel has structure.
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const inside = (x - width / 2) ** 2 + (y - height / 2) ** 2 < (Math.min(width, height) / 3) ** 2;
      for (let c = 0; c < 3; c++) data[(y * width + x) * 3 + c] = Math.min(255, Math.floor((inside ? 180 : 60) + 40 * r()));
    }
  }
  return { data, width, height };
}

async function expectCode(promise: Promise<unknown>, code: string, pattern: RegExp): Promise<void> {
  await expect(promise).rejects.toSatisfy((e: unknown) => isStcnError(e) && e.code === code && pattern.test((e as Error).message));
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

describe("1) zero pairwise weight", () => {
  it("Q equals softmax(-U): iterations change nothing, and a float32 softmax in JS agrees", async () => {
    const image = randomImage(40, 30, 1);
    const r = rng(2);
    const nLabels = 3;
    const probabilities = new Float32Array(nLabels * 40 * 30).map(() => r());
    const unary = unaryFromProbabilities(probabilities, nLabels);
    const zero = { gaussian: { sxy: 3, compat: 0 }, bilateral: { sxy: 20, srgb: 13, compat: 0 } };
    const q0 = await denseCrf({ image, unary, ...zero, iterations: 0 });
    const q10 = await denseCrf({ image, unary, ...zero, iterations: 10 });
    expect(q10.latticePoints.length).toBe(2);
    expect(maxAbsDiff(q0.q, q10.q)).toBe(0); // bitwise: -U + 0 * filtered = -U
    // softmax(-U) with U = -log(clip(p, 1e-5, 1)) in float32, computed here.
    const n = 40 * 30;
    let worst = 0;
    for (let i = 0; i < n; i++) {
      const t: number[] = [];
      for (let k = 0; k < nLabels; k++) {
        const p = Math.min(Math.max(probabilities[k * n + i] as number, 1e-5), 1);
        t.push(-Math.fround(-Math.log(p)));
      }
      const mx = Math.max(...t);
      const e = t.map((v) => Math.fround(Math.exp(Math.fround(v - mx))));
      const sum = e.reduce((a, b) => Math.fround(a + b), 0);
      for (let k = 0; k < nLabels; k++) worst = Math.max(worst, Math.abs(Math.fround((e[k] as number) / sum) - (q10.q[k * n + i] as number)));
    }
    recordDrift("crf: softmax(-U) unary vs float32 JS", worst, 2e-7);
    expect(worst).toBeLessThan(2e-7); // float32 rounding of exp only
  });

  it("labels unary: Q is the normalised unary_from_labels probabilities", async () => {
    const image = randomImage(16, 8, 3);
    const labels = new Uint8Array(16 * 8).map((_, i) => i % 3);
    const q = await denseCrf({
      image,
      unary: unaryFromLabels(labels, 3, 0.6, false),
      gaussian: { compat: 0 },
      bilateral: { compat: 0 },
      iterations: 3,
    });
    for (let i = 0; i < labels.length; i++) {
      for (let k = 0; k < 3; k++) {
        // gt 0.6 for the label, 0.2 for each other (exp(-U) normalised).
        expect(q.q[k * labels.length + i]).toBeCloseTo(k === labels[i] ? 0.6 : 0.2, 6);
      }
    }
    expect(Array.from(q.labels)).toEqual(Array.from(labels));
  });
});

describe("2) lattice filter of a constant", () => {
  for (const d of [2, 5]) {
    it(`is the constant after normalisation (d = ${d}, random features)`, async () => {
      const r = rng(10 + d);
      const n = 500;
      const features = new Float32Array(n * d).map(() => 6 * r());
      const c = 0.37;
      const ones = await permutohedralFilter({ features, d, values: new Float32Array(n).fill(1) });
      // Three rows: the reference's SSE-path arithmetic (> 2 value rows).
      const constant = await permutohedralFilter({ features, d, values: new Float32Array(3 * n).fill(c), valueSize: 3 });
      expect(ones.latticePoints).toBeGreaterThan(0);
      for (let k = 0; k < 3; k++) {
        for (let i = 0; i < n; i++) {
          expect(ones.values[i]).toBeGreaterThan(0);
          expect(Math.abs((constant.values[k * n + i] as number) / (ones.values[i] as number) - c)).toBeLessThan(1e-6);
        }
      }
    });
  }
});

describe("3) lattice filter vs the exact Gaussian filter (brute force)", () => {
  /** Normalised exact filter: sum_j exp(-|f_i - f_j|^2 / (2 s^2)) v_j / sum_j exp(...). */
  function exact(features: Float32Array, d: number, values: Float32Array, s = 1): Float64Array {
    const n = features.length / d;
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let num = 0;
      let den = 0;
      for (let j = 0; j < n; j++) {
        let dist = 0;
        for (let c = 0; c < d; c++) dist += ((features[i * d + c] as number) - (features[j * d + c] as number)) ** 2;
        const w = Math.exp(-dist / (2 * s * s));
        num += w * (values[j] as number);
        den += w;
      }
      out[i] = num / den;
    }
    return out;
  }

  async function lattice(features: Float32Array, d: number, values: Float32Array): Promise<Float64Array> {
    const n = features.length / d;
    const v = await permutohedralFilter({ features, d, values });
    const ones = await permutohedralFilter({ features, d, values: new Float32Array(n).fill(1) });
    return Float64Array.from(v.values, (x, i) => x / (ones.values[i] as number));
  }

  function errors(a: Float64Array, b: Float64Array): { max: number; mean: number } {
    let max = 0;
    let sum = 0;
    for (let i = 0; i < a.length; i++) {
      const e = Math.abs((a[i] as number) - (b[i] as number));
      max = Math.max(max, e);
      sum += e;
    }
    return { max, mean: sum / a.length };
  }

  it("Gaussian kernel on a 24x16 image (sxy 3): mean error < 0.01, max < 0.04 on values in [0, 1]", async () => {
    const w = 24;
    const h = 16;
    const sxy = 3;
    const features = new Float32Array(w * h * 2);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        features[(y * w + x) * 2] = x / sxy;
        features[(y * w + x) * 2 + 1] = y / sxy;
      }
    }
    const r = rng(7);
    // A smooth-ish signal plus noise (values in [0, 1]).
    const values = new Float32Array(w * h).map((_, i) => Math.min(1, Math.max(0, 0.5 + 0.4 * Math.sin((i % w) / 3) + 0.2 * (r() - 0.5))));
    const approx = await lattice(features, 2, values);
    const e1 = errors(approx, exact(features, 2, values, 1));
    recordDrift("crf: lattice vs exact gaussian, mean", e1.mean, 0.01);
    recordDrift("crf: lattice vs exact gaussian, max", e1.max, 0.04);
    expect(e1.mean).toBeLessThan(0.01);
    expect(e1.max).toBeLessThan(0.04);
    // The width is right: the exact filter with a 30% narrower or wider kernel is further away.
    expect(errors(approx, exact(features, 2, values, 0.7)).mean).toBeGreaterThan(e1.mean);
    expect(errors(approx, exact(features, 2, values, 1.3)).mean).toBeGreaterThan(e1.mean);
  });

  it("bilateral kernel on a 24x16 RGB image (sxy 5, srgb 20): mean error < 0.02, max < 0.1", async () => {
    const w = 24;
    const h = 16;
    const image = randomImage(w, h, 5);
    const features = new Float32Array(w * h * 5);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const i = y * w + x;
        features.set([x / 5, y / 5, (image.data[i * 3] as number) / 20, (image.data[i * 3 + 1] as number) / 20, (image.data[i * 3 + 2] as number) / 20], i * 5);
      }
    }
    const r = rng(9);
    const values = new Float32Array(w * h).map(() => r());
    const approx = await lattice(features, 5, values);
    const e = errors(approx, exact(features, 5, values, 1));
    recordDrift("crf: lattice vs exact bilateral, mean", e.mean, 0.02);
    recordDrift("crf: lattice vs exact bilateral, max", e.max, 0.1);
    expect(e.mean).toBeLessThan(0.02);
    expect(e.max).toBeLessThan(0.1);
  });
});

interface CaseParams {
  n_labels: number;
  gt_prob: number;
  zero_unsure: boolean;
  sxy_gauss: number;
  compat_gauss: number;
  sxy_bilateral: number;
  srgb: number;
  compat_bilateral: number;
  iterations: number;
}

describe("4) reference cases (../shared/data/crf)", () => {
  const cases = ["example_im1", "unary_only_im2"].filter((c) => existsSync(join(crfData, c, "params.json")));
  it("has the reference data", () => {
    expect(cases.length).toBe(2);
  });

  for (const name of cases) {
    const dir = join(crfData, name);
    const params = JSON.parse(readFileSync(join(dir, "params.json"), "utf8")) as CaseParams;
    const shape = (JSON.parse(readFileSync(join(dir, "q.json"), "utf8")) as { shape: number[] }).shape;
    const bytes = readFileSync(join(dir, "q.f32"));
    const qRef = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));

    for (const threads of [1, 2]) {
      it(`${name}: >= 99.9% of pixels agree and max |dQ| <= 1e-3 (threads ${threads})`, async () => {
        const image = await readRgb(join(dir, "image.png"));
        const labels = await readLabelPng(join(dir, "labels.png"));
        const map = await readLabelPng(join(dir, "map.png"));
        const r = await denseCrf({
          image,
          unary: unaryFromLabels(labels.data, params.n_labels, params.gt_prob, params.zero_unsure),
          gaussian: { sxy: params.sxy_gauss, compat: params.compat_gauss },
          bilateral: { sxy: params.sxy_bilateral, srgb: params.srgb, compat: params.compat_bilateral },
          iterations: params.iterations,
          threads,
        });
        expect([r.nLabels, r.height, r.width]).toEqual(shape);
        let agree = 0;
        for (let i = 0; i < r.argmax.length; i++) if (r.argmax[i] === map.data[i]) agree++;
        const dq = maxAbsDiff(r.q, qRef);
        recordDrift(`crf: reference ${name}, max |dQ| (threads ${threads})`, dq, threads === 1 ? 1e-6 : 1e-5);
        recordDrift(`crf: reference ${name}, 1 - label agreement (threads ${threads})`, 1 - agree / r.argmax.length, 0.001);
        expect(agree / r.argmax.length).toBeGreaterThanOrEqual(0.999);
        expect(dq).toBeLessThanOrEqual(1e-3);
        // Same float32 operations in the same order as the reference: with one thread we observe
        // max |dQ| = 0; two threads only change the order of the splat sums (~1e-7).
        expect(dq).toBeLessThanOrEqual(threads === 1 ? 1e-6 : 1e-5);
        if (params.iterations === 0) expect(dq).toBe(0); // Q = softmax(-U) exactly
        // Label-space output: with zero_unsure labels are 1..n.
        expect(r.labels[0]).toBe((r.argmax[0] as number) + (params.zero_unsure ? 1 : 0));
      });
    }

    it(`${name}: stcn crf writes the label map and Q`, () => {
      const out = tempDir("stcn-crf-cli-");
      const res = spawnSync(
        process.execPath,
        [
          cli,
          "crf",
          "--image",
          join(dir, "image.png"),
          "--mask",
          join(dir, "labels.png"),
          "--n-labels",
          String(params.n_labels),
          "--gt-prob",
          String(params.gt_prob),
          ...(params.zero_unsure ? ["--zero-unsure"] : []),
          "--sxy-gaussian",
          String(params.sxy_gauss),
          "--compat-gaussian",
          String(params.compat_gauss),
          "--sxy-bilateral",
          String(params.sxy_bilateral),
          "--srgb",
          String(params.srgb),
          "--compat-bilateral",
          String(params.compat_bilateral),
          "--iterations",
          String(params.iterations),
          "--out",
          join(out, "map.png"),
          "--out-prob",
          join(out, "q.f32"),
          "--timing",
        ],
        { encoding: "utf8" },
      );
      expect(res.stderr).toBe("");
      expect(res.status).toBe(0);
      expect(res.stdout).toMatch(/^crf_ms=\d+(\.\d+)?\n$/);
      const bytesOut = readFileSync(join(out, "q.f32"));
      expect(bytesOut.byteLength).toBe(qRef.byteLength);
      const q = new Float32Array(bytesOut.buffer.slice(bytesOut.byteOffset, bytesOut.byteOffset + bytesOut.byteLength));
      expect(maxAbsDiff(q, qRef)).toBeLessThanOrEqual(1e-3);
      return readLabelPng(join(out, "map.png")).then(async (written) => {
        const map = await readLabelPng(join(dir, "map.png"));
        let agree = 0;
        const shift = params.zero_unsure ? 1 : 0;
        for (let i = 0; i < map.data.length; i++) if (written.data[i] === (map.data[i] as number) + shift) agree++;
        expect(agree / map.data.length).toBeGreaterThanOrEqual(0.999);
        expect(written.palette).toBeUndefined(); // 8-bit greyscale
      });
    });
  }
});

describe("the study's call", () => {
  it("refineMaskWithCrf = denseCrf with STUDY_CRF on a real 854x480 frame", async () => {
    const image = await readRgb(dataPath("clips", "bike", "frames", "00000.jpg"));
    const objects = await readLabelPng(dataPath("clips", "bike", "masks", "00000.png"));
    const mask = objects.data.map((v) => (v === 1 ? 1 : 0));
    const refined = await refineMaskWithCrf(image, mask);
    const explicit = await denseCrf({
      image,
      unary: unaryFromLabels(mask, 2, 10 / 11, false),
      gaussian: { sxy: 3, compat: 3 },
      bilateral: { sxy: 40, srgb: 13, compat: 10 },
      iterations: 10,
    });
    expect(STUDY_CRF.iterations).toBe(10);
    expect(Array.from(refined)).toEqual(Array.from(explicit.labels));
    // A refinement, not a replacement: most pixels keep their label, and both labels remain.
    let same = 0;
    let fg = 0;
    for (let i = 0; i < mask.length; i++) {
      if (refined[i] === mask[i]) same++;
      fg += refined[i] as number;
    }
    expect(same / mask.length).toBeGreaterThan(0.95);
    expect(fg).toBeGreaterThan(0);
    expect(fg).toBeLessThan(mask.length);
  });
});

describe("async behaviour", () => {
  it("runs off the main thread and copies its inputs at the call", async () => {
    const image = await readRgb(dataPath("clips", "bike", "frames", "00000.jpg"));
    const objects = await readLabelPng(dataPath("clips", "bike", "masks", "00000.png"));
    const labels = objects.data.map((v) => (v === 1 ? 1 : 0));
    const reference = await denseCrf({ image, unary: unaryFromLabels(labels.slice(), 2, 0.8), iterations: 3 });
    // The event loop keeps turning while the CRF runs (a synchronous native call would settle the
    // Promise before any setImmediate callback).
    let turns = 0;
    let done = false;
    const spin = (): void => {
      if (done) return;
      turns++;
      setImmediate(spin);
    };
    setImmediate(spin);
    const pending = denseCrf({ image: { ...image, data: image.data.slice() }, unary: unaryFromLabels(labels, 2, 0.8), iterations: 3 });
    labels.fill(0); // the inputs were copied when denseCrf was called
    const result = await pending;
    done = true;
    expect(turns).toBeGreaterThan(0);
    expect(maxAbsDiff(result.q, reference.q)).toBe(0);
  });
});

describe("5) bad inputs", () => {
  const image = randomImage(8, 6, 4);
  const labels = new Uint8Array(48);

  it("size mismatch", async () => {
    await expectCode(
      denseCrf({ image, unary: unaryFromLabels(new Uint8Array(47), 2, 0.7) }),
      "ERR_STCN_ARGUMENT",
      /labels have 47 pixels, the image is 8x6 = 48/,
    );
    await expectCode(
      denseCrf({ image: { ...image, data: image.data.subarray(1) }, unary: unaryFromLabels(labels, 2, 0.7) }),
      "ERR_STCN_ARGUMENT",
      /image.data has 143 bytes, expected 8x6x3 = 144/,
    );
    await expectCode(
      denseCrf({ image, unary: unaryFromEnergy(new Float32Array(48), 2) }),
      "ERR_STCN_ARGUMENT",
      /energy has 48 values, expected nLabels\*H\*W = 2\*6\*8/,
    );
  });

  it("labels >= nLabels (and > nLabels with zeroUnsure)", () => {
    const bad = labels.slice();
    bad[13] = 2;
    expect(() => unaryFromLabels(bad, 2, 0.7)).toThrow(/label 2 at index 13 is out of range: with nLabels 2, labels are 0..1/);
    bad[13] = 3;
    expect(() => unaryFromLabels(bad, 2, 0.7, true)).toThrow(/label 3 at index 13 .*zeroUnsure, labels are 0 \(unsure\) or 1..2/);
  });

  it("labels out of range are also refused natively (bypassing the helper)", async () => {
    const bad = labels.slice();
    bad[9] = 5;
    await expectCode(
      denseCrf({ image, unary: { kind: "labels", labels: bad, nLabels: 2, gtProb: 0.7, zeroUnsure: false } }),
      "ERR_STCN_ARGUMENT",
      /label 5 at pixel \(x 1, y 1\) is out of range/,
    );
  });

  it("non-positive sxy / srgb, bad gtProb, iterations, normalisation", async () => {
    const unary = unaryFromLabels(labels, 2, 0.7);
    await expectCode(denseCrf({ image, unary, gaussian: { sxy: 0 } }), "ERR_STCN_ARGUMENT", /gaussian.sxy must be a positive finite number, got 0/);
    await expectCode(denseCrf({ image, unary, bilateral: { sxy: [3, -1] } }), "ERR_STCN_ARGUMENT", /bilateral.sxy\[1\] must be a positive/);
    await expectCode(denseCrf({ image, unary, bilateral: { srgb: Number.NaN } }), "ERR_STCN_ARGUMENT", /bilateral.srgb must be a positive/);
    await expectCode(denseCrf({ image, unary, iterations: -1 }), "ERR_STCN_ARGUMENT", /iterations must be an integer/);
    await expectCode(
      denseCrf({ image, unary, gaussian: { normalization: "sideways" as never } }),
      "ERR_STCN_ARGUMENT",
      /gaussian.normalization must be one of symmetric, before, after, none/,
    );
    expect(() => unaryFromLabels(labels, 2, 1)).toThrow(/gtProb must be in \(0, 1\), got 1/);
  });

  it("the native layer asserts its invariants: what TypeScript checks comes back as an internal error there", async () => {
    const base = { width: 8, height: 6, nLabels: 2, iterations: 1, threads: 1, image: image.data, unary: "labels", labels, gtProb: 0.7, zeroUnsure: false };
    await expectCode(native().denseCrf({ ...base, labels: new Uint8Array(3), pairwise: [] }), "ERR_STCN_INTERNAL", /labels \(H\*W\) has 3 elements, expected 48/);
    await expectCode(
      native().denseCrf({ ...base, pairwise: [{ kind: "gaussian", sx: -3, sy: 3, compat: 3, normalization: "symmetric" }] }),
      "ERR_STCN_INTERNAL",
      /gaussian term 0: sxy must be positive/,
    );
    await expectCode(
      native().permutohedralFilter(new Float32Array([Number.NaN, 1]), 2, new Float32Array(1), 1, false, 1),
      "ERR_STCN_INTERNAL",
      /feature of point 0 is not finite/,
    );
    // Through the library the same mistake is the caller's, named once.
    await expectCode(
      permutohedralFilter({ features: new Float32Array([Number.NaN, 1]), d: 2, values: new Float32Array(1) }),
      "ERR_STCN_ARGUMENT",
      /features \(point 0\) must be finite, got NaN/,
    );
    // Only the engine can tell that data overflows the lattice: a user error, named there.
    await expectCode(
      native().permutohedralFilter(new Float32Array([1e6, 1]), 2, new Float32Array(1), 1, false, 1),
      "ERR_STCN_ARGUMENT",
      /too large for 16-bit lattice coordinates/,
    );
  });

  it("stcn crf: image/mask size mismatch and labels >= n-labels name the file; nothing is written", () => {
    const dir = tempDir("stcn-crf-bad-");
    const maskPath = join(dir, "mask.png");
    const out = join(dir, "out.png");
    // 320x240 image with a 8x6 mask.
    writeFileSync(maskPath, encodeGreyPng(labels, 8, 6));
    const img = join(crfData, "example_im1", "image.png");
    let res = spawnSync(process.execPath, [cli, "crf", "--image", img, "--mask", maskPath, "--out", out], { encoding: "utf8" });
    expect(res.status).not.toBe(0);
    expect(res.stderr).toMatch(/mask .*mask.png is 8x6 but image .*image.png is 320x240 \[ERR_STCN_INPUT\]/);
    expect(existsSync(out)).toBe(false);
    res = spawnSync(
      process.execPath,
      [cli, "crf", "--image", img, "--mask", join(crfData, "example_im1", "labels.png"), "--n-labels", "2", "--out", out],
      { encoding: "utf8" },
    );
    expect(res.status).not.toBe(0);
    expect(res.stderr).toMatch(/mask .*labels.png: label 2 at \(x \d+, y \d+\) is out of range: with nLabels 2, labels are 0..1 \[ERR_STCN_INPUT\]/);
    expect(existsSync(out)).toBe(false);
    res = spawnSync(process.execPath, [cli, "crf", "--image", img, "--mask", maskPath, "--sxy-bilateral", "0", "--out", out], { encoding: "utf8" });
    expect(res.status).not.toBe(0);
    expect(res.stderr).toMatch(/--sxy-bilateral must be a positive number, got 0 \[ERR_STCN_ARGUMENT\]/);
    expect(existsSync(out)).toBe(false);
  });
});
