/**
 * The addon's torchvision::nms / torchvision::roi_align against torchvision's own kernels.
 *
 * Python (torchvision 0.14) draws randomized cases, computes the reference outputs with
 * torch.ops.torchvision.* and scripts a module whose methods call the same ops; the addon loads that
 * module (so the ops resolve to OUR registrations: libtorchvision is never loaded into Node) and the
 * outputs are compared. Cases cover aligned / not aligned, sampling_ratio -1/0/1/2/3, spatial scales,
 * empty inputs, boxes partly or wholly outside the feature map, degenerate and tiny boxes, float32 and
 * float64, NMS ties and duplicates.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadModule, Tensor, type Module } from "../dist/index.js";
import { native } from "../dist/native.js";
import { python, tempDir, testPython, recordDrift } from "./helpers.js";

const script = testPython("detection-ops-cases.py");

interface Enc {
  dtype: "float32" | "float64";
  shape: number[];
  data: number[];
}
interface NmsCase {
  dets: Enc;
  scores: Enc;
  thr: number;
  keep: number[];
}
interface RoiCase {
  rois: Enc;
  scale: number;
  ph: number;
  pw: number;
  sr: number;
  aligned: boolean;
  out: Enc;
  x_full?: Enc;
}

function tensorOf(e: Enc): Tensor {
  const data = e.dtype === "float64" ? Float64Array.from(e.data) : Float32Array.from(e.data);
  return Tensor.fromTypedArray(data, e.shape, e.dtype);
}

let dir: string;
let ops: Module;
let cases: { nms: NmsCase[]; roi: RoiCase[] };

beforeAll(async () => {
  dir = tempDir("stcn-detops-");
  // TorchScript needs the source on disk.
  execFileSync(python, [script, dir], { encoding: "utf8", timeout: 300_000, maxBuffer: 64 << 20 });
  cases = JSON.parse(readFileSync(join(dir, "cases.json"), "utf8")) as typeof cases;
  ops = await loadModule(join(dir, "ops.pt"));
});
afterAll(() => {
  ops?.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("detection ops registered by the addon", () => {
  it("are ours (libtorchvision is not in this process)", () => {
    const status = native().detectionOps();
    expect(status.nms).toBe("stcn");
    expect(status.roiAlign).toBe("stcn");
  });

  it("nms keeps exactly torchvision's indices, in its order (ties, duplicates, empty, float32/64)", async () => {
    expect(cases.nms.length).toBe(50);
    let nonTrivial = 0;
    for (const c of cases.nms) {
      const dets = tensorOf(c.dets);
      const scores = tensorOf(c.scores);
      const keep = (await ops.run("nms", dets, scores, c.thr)) as Tensor;
      expect(keep.dtype).toBe("int64");
      const got = Array.from(keep.toTypedArray() as BigInt64Array, Number);
      expect(got, `nms n=${c.dets.shape[0]} thr=${c.thr} ${c.dets.dtype}`).toEqual(c.keep);
      if (c.keep.length > 1 && c.keep.length < c.dets.shape[0]!) nonTrivial++;
      dets.dispose();
      scores.dispose();
      keep.dispose();
    }
    expect(nonTrivial).toBeGreaterThan(10); // suppression actually happened in many cases
  });

  it("roi_align equals torchvision's (aligned or not, every sampling ratio, boxes outside, empty)", async () => {
    let x: Tensor | undefined;
    let pending: RoiCase[] = [];
    let compared = 0;
    let maxDiff = 0;
    let exact = 0;
    let total = 0;
    // Cases are grouped by input: x_full closes each group (see the Python script).
    for (const c of cases.roi) {
      pending.push(c);
      if (!c.x_full) continue;
      x = tensorOf(c.x_full);
      for (const p of pending) {
        const rois = tensorOf(p.rois);
        const y = (await ops.run("roi_align", x, rois, p.scale, p.ph, p.pw, p.sr, p.aligned)) as Tensor;
        expect(y.shape).toEqual(p.out.shape);
        expect(y.dtype).toBe(p.out.dtype);
        const got = y.toTypedArray() as Float32Array | Float64Array;
        for (let i = 0; i < got.length; i++) {
          const ref = p.out.data[i]!;
          const d = Math.abs(got[i]! - ref);
          if (d === 0) exact++;
          total++;
          maxDiff = Math.max(maxDiff, d / (1 + Math.abs(ref)));
        }
        compared++;
        rois.dispose();
        y.dispose();
      }
      x.dispose();
      pending = [];
    }
    expect(compared).toBe(cases.roi.length);
    console.log(`roi_align: ${compared} cases, ${total} values, ${exact} bit-identical, max rel diff ${maxDiff}`);
    expect(total).toBeGreaterThan(100_000);
    recordDrift("roi_align vs torchvision: max relative", maxDiff, 1e-6);
    expect(maxDiff).toBeLessThanOrEqual(1e-6);
  });

  it("refuses malformed inputs with a clear error", async () => {
    const bad = Tensor.fromTypedArray(new Float32Array(6), [2, 3]);
    const s = Tensor.fromTypedArray(new Float32Array(2), [2]);
    await expect(ops.run("nms", bad, s, 0.5)).rejects.toMatchObject({ code: "ERR_STCN_RUN", message: expect.stringContaining("4 elements") });
    const x = Tensor.fromTypedArray(new Float32Array(16), [1, 1, 4, 4]);
    const r = Tensor.fromTypedArray(new Float32Array([3, 0, 0, 2, 2]), [1, 5]);
    await expect(ops.run("roi_align", x, r, 1.0, 2, 2, 2, true)).rejects.toMatchObject({
      code: "ERR_STCN_RUN",
      message: expect.stringContaining("batch index 3"),
    });
    for (const t of [bad, s, x, r]) t.dispose();
  });
});
