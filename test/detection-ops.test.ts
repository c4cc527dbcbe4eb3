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
import { python, tempDir } from "./helpers.js";

const script = String.raw`
import json, sys, torch, torchvision
from typing import List
out = sys.argv[1]
g = torch.Generator().manual_seed(1234)

class Ops(torch.nn.Module):
    @torch.jit.export
    def nms(self, dets: torch.Tensor, scores: torch.Tensor, thr: float) -> torch.Tensor:
        return torch.ops.torchvision.nms(dets, scores, thr)

    @torch.jit.export
    def roi_align(self, x: torch.Tensor, rois: torch.Tensor, scale: float, ph: int, pw: int, sr: int, aligned: bool) -> torch.Tensor:
        return torch.ops.torchvision.roi_align(x, rois, scale, ph, pw, sr, aligned)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x

torch.jit.save(torch.jit.script(Ops()), out + "/ops.pt")

def rand(*shape, dtype=torch.float32):
    return torch.rand(*shape, generator=g, dtype=dtype)

def boxes(n, dtype, extent=100.0, ties=False):
    xy = rand(n, 2, dtype=dtype) * extent
    wh = rand(n, 2, dtype=dtype) * extent * 0.4
    b = torch.cat([xy, xy + wh], 1)
    if n >= 4:
        b[1] = b[0]                          # duplicate box
        b[2, 2:] = b[2, :2]                  # zero-area box
    return b

def enc(t):
    return {"dtype": str(t.dtype).replace("torch.", ""), "shape": list(t.shape), "data": t.flatten().tolist()}

nms_cases = []
for dtype in (torch.float32, torch.float64):
    for n in (0, 1, 6, 60, 400):
        for thr in (0.0, 0.3, 0.5, 0.7, 1.0):
            b = boxes(n, dtype)
            s = rand(n, dtype=dtype)
            if n >= 6:
                s = (s * 4).floor() / 4      # many exact score ties
            keep = torch.ops.torchvision.nms(b, s, thr)
            nms_cases.append({"dets": enc(b), "scores": enc(s), "thr": thr, "keep": keep.tolist()})

roi_cases = []
for dtype in (torch.float32, torch.float64):
    x = torch.randn(2, 3, 13, 17, generator=g, dtype=dtype)
    for scale in (1.0, 0.5, 0.25):
        for (ph, pw) in ((7, 7), (3, 5), (14, 14)):
            for sr in (-1, 0, 1, 2, 3):
                for aligned in (False, True):
                    k = 9
                    b = torch.empty(k, 5, dtype=dtype)
                    b[:, 0] = torch.randint(0, 2, (k,), generator=g).to(dtype)
                    ext = 17.0 / scale
                    xy = rand(k, 2, dtype=dtype) * ext * 1.4 - ext * 0.2       # some start outside
                    wh = rand(k, 2, dtype=dtype) * ext * 0.8
                    b[:, 1:3] = xy
                    b[:, 3:5] = xy + wh
                    b[0, 1:] = torch.tensor([-40.0, -40.0, -20.0, -20.0], dtype=dtype) / scale  # wholly outside
                    b[1, 1:] = torch.tensor([3.2, 4.1, 3.3, 4.15], dtype=dtype) / scale         # tiny
                    b[2, 1:] = torch.tensor([5.0, 6.0, 4.0, 5.0], dtype=dtype) / scale          # inverted
                    b[3, 1:] = torch.tensor([0.0, 0.0, 17.0, 13.0], dtype=dtype) / scale        # whole map
                    b[4, 1:] = torch.tensor([10.0, 8.0, 40.0, 30.0], dtype=dtype) / scale       # past the far edge
                    y = torch.ops.torchvision.roi_align(x, b, scale, ph, pw, sr, aligned)
                    roi_cases.append({"rois": enc(b), "scale": scale, "ph": ph, "pw": pw, "sr": sr, "aligned": aligned,
                                      "out": enc(y)})
    roi_cases[-1]["x_full"] = enc(x)
# empty RoI list and empty channel count
x = torch.randn(1, 4, 8, 8, generator=g)
e = torch.empty(0, 5)
roi_cases.append({"rois": enc(e), "scale": 1.0, "ph": 7, "pw": 7, "sr": 2, "aligned": True, "out": enc(torch.ops.torchvision.roi_align(x, e, 1.0, 7, 7, 2, True)), "x_full": enc(x)})
json.dump({"nms": nms_cases, "roi": roi_cases}, open(out + "/cases.json", "w"))
`;

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
  writeFileSync(join(dir, "make_cases.py"), script);
  execFileSync(python, [join(dir, "make_cases.py"), dir], { encoding: "utf8", timeout: 300_000, maxBuffer: 64 << 20 });
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
