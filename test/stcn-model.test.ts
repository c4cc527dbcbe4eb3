/**
 * STCN model + exporter (torchscript/stcn.py, torchscript/export_stcn.py):
 * - a state_dict with the full official key set (405 entries, official names and shapes, random
 *   values) loads strictly and exports; wrong ones are refused naming the offending keys;
 * - the stage-0 (4-channel value_encoder.conv1) and `module.`-prefixed variants load;
 * - the exported archive's methods run through the addon and equal the eager PyTorch model.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadModule, Tensor, type Module } from "../dist/index.js";
import { readRgb } from "../dist/io/image.js";
import { readLabelPng } from "../dist/io/png.js";
import { python, repoRoot, runPython, tempDir, testPython, dataPath, recordDrift } from "./helpers.js";

const torchscriptDir = join(repoRoot, "torchscript");

/** Runs a script of test/python/ with torchscript/ on the module path; returns stdout. */
function py(script: string, args: string[] = []): string {
  return execFileSync(python, [testPython(script), ...args], {
    env: { ...process.env, PYTHONPATH: torchscriptDir },
    encoding: "utf8",
    timeout: 300_000,
    maxBuffer: 64 * 1024 * 1024,
  });
}

/** Runs export_stcn.py and returns its exit status and output (no throw on failure). */
function exporter(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(python, [join(torchscriptDir, "export_stcn.py"), ...args], {
    encoding: "utf8",
    timeout: 300_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

let dir: string;

beforeAll(() => {
  dir = tempDir("stcn-model-");
  // One seeded random export: the archive and an official-format state_dict with the same weights.
  runPython("export_stcn.py", [
    "--random-init",
    "--seed",
    "7",
    "--out",
    join(dir, "random.pt"),
    "--state-dict-out",
    join(dir, "official.pth"),
  ]);
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("official checkpoint layout", () => {
  it("has the 405 official keys with the official shapes and bias placement", () => {
    const info = JSON.parse(
      py(
        "stcn-model-official-layout.py",
        [join(dir, "official.pth")],
      ),
    ) as { n: number; learn: number; ke_bias: string[]; shapes: Record<string, number[]> };
    expect(info.n).toBe(405);
    expect(info.learn).toBeGreaterThan(54.3e6);
    expect(info.learn).toBeLessThan(54.5e6);
    expect(info.ke_bias).toEqual([]); // torchvision ResNet-50: no conv biases
    const s = info.shapes;
    expect(s["key_encoder.conv1.weight"]).toEqual([64, 3, 7, 7]);
    expect(s["key_encoder.res2.0.downsample.0.weight"]).toEqual([256, 64, 1, 1]);
    expect(s["key_encoder.layer3.5.conv3.weight"]).toEqual([1024, 256, 1, 1]);
    expect(s["key_encoder.layer2.0.conv2.weight"]).toEqual([128, 128, 3, 3]);
    expect(s["value_encoder.conv1.weight"]).toEqual([64, 5, 7, 7]);
    expect(s["value_encoder.conv1.bias"]).toEqual([64]);
    expect(s["value_encoder.layer3.0.downsample.0.bias"]).toEqual([256]);
    expect(s["value_encoder.layer1.0.downsample.0.weight"]).toBeUndefined();
    expect(s["value_encoder.fuser.block1.downsample.weight"]).toEqual([512, 1280, 3, 3]);
    expect(s["value_encoder.fuser.block2.downsample.weight"]).toBeUndefined();
    expect(s["value_encoder.fuser.attention.ChannelGate.mlp.1.weight"]).toEqual([32, 512]);
    expect(s["value_encoder.fuser.attention.ChannelGate.mlp.3.weight"]).toEqual([512, 32]);
    expect(s["value_encoder.fuser.attention.SpatialGate.spatial.conv.weight"]).toEqual([1, 2, 7, 7]);
    expect(s["value_encoder.fuser.attention.SpatialGate.spatial.conv.bias"]).toEqual([1]);
    expect(s["key_proj.key_proj.weight"]).toEqual([64, 1024, 3, 3]);
    expect(s["key_comp.weight"]).toEqual([512, 1024, 3, 3]);
    expect(s["decoder.compress.downsample.weight"]).toEqual([512, 1024, 3, 3]);
    expect(s["decoder.up_16_8.out_conv.downsample.weight"]).toEqual([256, 512, 3, 3]);
    expect(s["decoder.up_8_4.out_conv.downsample.weight"]).toBeUndefined();
    expect(s["decoder.pred.weight"]).toEqual([1, 256, 3, 3]);
    expect(s["decoder.pred.bias"]).toEqual([1]);
  });

  it("an official-format state_dict loads strictly and exports the same weights with metadata", async () => {
    const out = join(dir, "from-sd.pt");
    const r = exporter(["--checkpoint", join(dir, "official.pth"), "--out", out]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const same = py(
      "stcn-model-export-same-weights.py",
      [join(dir, "official.pth"), out],
    ).trim();
    expect(same).toBe("True");
    const m = await loadModule(out);
    try {
      const meta = m.metadata as Record<string, unknown>;
      expect(meta.model).toBe("stcn");
      expect(meta.key_dim).toBe(64);
      expect(meta.value_dim).toBe(512);
      expect(meta.seed).toBeNull();
      expect(String(meta.source)).toContain("official.pth");
      expect(meta.source_sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(meta.options).toEqual({ stage0_conv1_padded: false, module_prefix_stripped: false });
      expect(m.methods).toEqual(expect.arrayContaining(["encode_key", "encode_value", "decode"]));
    } finally {
      m.dispose();
    }
  });

  it("refuses a checkpoint with a missing key, an unexpected key and a wrong shape, naming them (exit 2)", () => {
    const bad = join(dir, "bad.pth");
    py(
      "stcn-model-bad-checkpoints.py",
      [join(dir, "official.pth"), bad],
    );
    const r = exporter(["--checkpoint", bad, "--out", join(dir, "bad.pt")]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("bad.pth");
    expect(r.stderr).toContain("missing: decoder.pred.bias");
    expect(r.stderr).toContain("unexpected: memory.extra");
    expect(r.stderr).toContain("key_comp.weight (512, 1000, 3, 3) (expected (512, 1024, 3, 3))");
    expect(existsSync(join(dir, "bad.pt"))).toBe(false); // nothing written
  });

  it("refuses a file that is not a checkpoint (exit 2)", () => {
    const junk = join(dir, "junk.pth");
    writeFileSync(junk, "not a checkpoint");
    const r = exporter(["--checkpoint", junk, "--out", join(dir, "junk.pt")]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("cannot read checkpoint");
    expect(r.stderr).toContain("junk.pth");
  });

  it("loads the stage-0 variant (4-channel value_encoder.conv1, zero-padded), module. prefix, saved from CUDA", async () => {
    const s0 = join(dir, "stage0.pth");
    // Storages tagged "cuda:0" as a GPU-saved checkpoint has them (plain torch.load fails on a CPU host).
    py(
      "stcn-model-stage0-variant.py",
      [join(dir, "official.pth"), s0],
    );
    const out = join(dir, "stage0.pt");
    const r = exporter(["--checkpoint", s0, "--out", out]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const check = py(
      "stcn-model-stage0-same-weights.py",
      [join(dir, "official.pth"), out],
    ).trim();
    expect(check).toBe("405 (64, 5, 7, 7) True 0.0 True");
    const m = await loadModule(out);
    try {
      expect(m.metadata?.options).toEqual({ stage0_conv1_padded: true, module_prefix_stripped: true });
    } finally {
      m.dispose();
    }
  });

  it("random init is seeded: same seed, same weights; another seed, other weights; key_proj scaled", () => {
    const res = py(
      "stcn-model-random-init-seeded.py",
      [join(dir, "official.pth")],
    ).trim();
    expect(res).toBe("True False True");
  });
});

// ---------------------------------------------------------------------------------------------------
// Methods through the addon vs the eager model
// ---------------------------------------------------------------------------------------------------
interface Dumped {
  shapes: Record<string, number[]>;
}

function readF32(path: string): Float32Array {
  const buf = readFileSync(path);
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}

/** Max |a - b| and max |b|. */
function compare(a: Float32Array, b: Float32Array): { diff: number; scale: number } {
  expect(a.length).toBe(b.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return { diff, scale };
}

describe("exported methods through the addon equal the eager model", () => {
  let io: string;
  let dumped: Dumped;
  const H = 64;
  const W = 96;

  beforeAll(() => {
    io = join(dir, "io");
    // Eager STCN with the archive's state_dict (as reference_stcn.py loads it), seeded inputs.
    py(
      "stcn-model-eager-methods.py",
      [join(dir, "random.pt"), io, String(H), String(W)],
    );
    dumped = JSON.parse(readFileSync(join(io, "shapes.json"), "utf8")) as Dumped;
  });

  const input = (name: string): Tensor => Tensor.fromTypedArray(readF32(join(io, `${name}.f32`)), dumped.shapes[name]);
  let optimizationUnderTest = "none";
  const expectClose = (t: Tensor, name: string, tol: number): void => {
    expect(t.dtype).toBe("float32");
    expect(t.shape).toEqual(dumped.shapes[name]);
    const { diff, scale } = compare(t.toTypedArray() as Float32Array, readF32(join(io, `${name}.f32`)));
    recordDrift(`stcn module (${optimizationUnderTest}) vs eager: ${name}, max relative`, diff / Math.max(1, scale), tol);
    expect(scale).toBeGreaterThan(0);
    // Features: within 1e-4 relative to their magnitude; probabilities: within 1e-4 absolute.
    expect(diff).toBeLessThanOrEqual(tol * Math.max(1, scale));
  };

  for (const optimization of ["none", "inference"] as const) {
    describe(`optimization "${optimization}"`, () => {
      let m: Module;
      beforeAll(async () => {
        m = await loadModule(join(dir, "random.pt"), { optimization });
        optimizationUnderTest = optimization;
      });
      afterAll(() => m?.dispose());

      it("encode_key -> (k16, f16_thin, f16, f8, f4) with the contract shapes", async () => {
        const frame = input("frame");
        const out = (await m.run("encode_key", frame)) as Tensor[];
        expect(out).toHaveLength(5);
        expect(out.map((t) => t.shape)).toEqual([
          [1, 64, H / 16, W / 16],
          [1, 512, H / 16, W / 16],
          [1, 1024, H / 16, W / 16],
          [1, 512, H / 8, W / 8],
          [1, 256, H / 4, W / 4],
        ]);
        ["k16", "f16_thin", "f16", "f8", "f4"].forEach((name, i) => expectClose(out[i], name, 1e-4));
        for (const t of out) t.dispose();
        frame.dispose();
      });

      it("encode_value for k = 3 and k = 1 ('others' channel) -> [k,512,h,w]", async () => {
        const frame = input("frame");
        const f16 = input("f16");
        const masks = input("masks3");
        const v3 = (await m.run("encode_value", frame, f16, masks)) as Tensor;
        expect(v3.shape).toEqual([3, 512, H / 16, W / 16]);
        expectClose(v3, "value3", 1e-4);
        const one = Tensor.fromTypedArray((masks.toTypedArray() as Float32Array).slice(0, H * W), [1, 1, H, W]);
        const v1 = (await m.run("encode_value", frame, f16, one)) as Tensor;
        expectClose(v1, "value1", 1e-4);
        for (const t of [frame, f16, masks, one, v3, v1]) t.dispose();
      });

      it("decode -> sigmoid probabilities [k,1,H,W] (f8/f4 broadcast over k)", async () => {
        const f16Thin = input("f16_thin");
        const f8 = input("f8");
        const f4 = input("f4");
        for (const [r, name] of [
          ["readout", "probs2"],
          ["value3", "probs_v"],
        ] as const) {
          const readout = input(r);
          const p = (await m.run("decode", readout, f16Thin, f8, f4)) as Tensor;
          expect(p.shape).toEqual([readout.shape[0], 1, H, W]);
          const data = p.toTypedArray() as Float32Array;
          expect(Math.min(...data)).toBeGreaterThanOrEqual(0);
          expect(Math.max(...data)).toBeLessThanOrEqual(1);
          const { diff } = compare(data, readF32(join(io, `${name}.f32`)));
          recordDrift(`stcn module (${optimization}) vs eager: decode ${name}, max`, diff, 1e-4);
          expect(diff).toBeLessThanOrEqual(1e-4);
          p.dispose();
          readout.dispose();
        }
        for (const t of [f16Thin, f8, f4]) t.dispose();
      });
    });
  }
});

// ---------------------------------------------------------------------------------------------------
// The eager reference loop (torchscript/reference_stcn.py) on small real clips
// ---------------------------------------------------------------------------------------------------
const MEAN = [0.485, 0.456, 0.406];
const STD = [0.229, 0.224, 0.225];

/** Runs reference_stcn.py (no throw on failure). */
function reference(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(python, [join(torchscriptDir, "reference_stcn.py"), "--model", join(dir, "random.pt"), "--threads", "2", ...args], {
    encoding: "utf8",
    timeout: 300_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Soft aggregation (docs/stcn-python.md, normative rule 9) of k object maps of n pixels -> k+1 maps. */
function aggregateJs(p: Float64Array[], n: number): Float64Array[] {
  const out = [new Float64Array(n), ...p.map(() => new Float64Array(n))];
  const clamp = (x: number): number => Math.min(Math.max(x, 1e-7), 1 - 1e-7);
  for (let i = 0; i < n; i++) {
    let bg = 1;
    for (const q of p) bg *= 1 - q[i];
    const logits = [bg, ...p.map((q) => q[i])].map((x) => Math.log(clamp(x) / (1 - clamp(x))));
    const mx = Math.max(...logits);
    const e = logits.map((l) => Math.exp(l - mx));
    const s = e.reduce((a, b) => a + b, 0);
    e.forEach((v, c) => (out[c][i] = v / s));
  }
  return out;
}

describe("eager reference loop (reference_stcn.py)", () => {
  // Mini clips: 100x60 (padded to 112x64: pad left/right 6/6, top/bottom 2/2), PNG frames.
  const W = 100;
  const H = 60;
  let clips: string;

  beforeAll(() => {
    clips = join(dir, "clips");
    py(
      "stcn-model-clip-crops.py",
      [dataPath("clips"), clips, String(W), String(H)],
    );
  });

  it("writes labels, probabilities, objects.json and timing.json; frame 0 = first mask; probs sum to 1", async () => {
    const out = join(dir, "ref-bike");
    const r = reference(["--frames", join(clips, "bike/frames"), "--mask", join(clips, "bike/masks/00000.png"), "--size", "0", "--mem-every", "2", "--out", out, "--save-probs"]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const objects = JSON.parse(readFileSync(join(out, "objects.json"), "utf8")) as Record<string, unknown>;
    expect(objects).toMatchObject({ ids: [1, 2], join_frames: [0, 0], native_size: [H, W], working_size: [H, W], padded_size: [64, 112], pad_lrtb: [6, 6, 2, 2] });
    const timing = JSON.parse(readFileSync(join(out, "timing.json"), "utf8")) as { frames: number; seconds_propagation: number; fps: number };
    expect(timing.frames).toBe(4);
    expect(timing.fps).toBeCloseTo(4 / timing.seconds_propagation, 6);
    const first = await readLabelPng(join(clips, "bike/masks/00000.png"));
    for (let t = 0; t < 4; t++) {
      const labels = await readLabelPng(join(out, `${String(t).padStart(5, "0")}.png`));
      expect([labels.width, labels.height]).toEqual([W, H]);
      const probs = readF32(join(out, `${String(t).padStart(5, "0")}.f32`));
      expect(probs.length).toBe(3 * H * W);
      for (let i = 0; i < H * W; i++) {
        const p = [probs[i], probs[H * W + i], probs[2 * H * W + i]];
        expect(Math.abs(p[0] + p[1] + p[2] - 1)).toBeLessThan(1e-5);
        const arg = p.indexOf(Math.max(...p));
        expect(labels.data[i]).toBe(arg); // ids 1, 2 = channels 1, 2
      }
      if (t === 0) expect(Buffer.from(labels.data).equals(Buffer.from(first.data))).toBe(true);
    }
  });

  it("frame 1 equals an independent recomputation: normalise + pad here, addon methods, memory read and aggregation in JS", async () => {
    const out = join(dir, "ref-bike");
    const m = await loadModule(join(dir, "random.pt"));
    const PH = 64;
    const PW = 112;
    const top = 2;
    const left = 6;
    const frameTensor = async (t: number): Promise<Tensor> => {
      const rgb = await readRgb(join(clips, "bike/frames", `${String(t).padStart(5, "0")}.png`));
      const x = new Float32Array(3 * PH * PW); // zero padding in normalised space
      for (let c = 0; c < 3; c++)
        for (let y = 0; y < H; y++)
          for (let xx = 0; xx < W; xx++) {
            const v = Math.fround(Math.fround(rgb.data[(y * W + xx) * 3 + c] / 255) - Math.fround(MEAN[c]));
            x[c * PH * PW + (y + top) * PW + xx + left] = Math.fround(v / Math.fround(STD[c]));
          }
      return Tensor.fromTypedArray(x, [1, 3, PH, PW]);
    };
    try {
      const mask = await readLabelPng(join(clips, "bike/masks/00000.png"));
      const onehot = [1, 2].map((id) => {
        const a = new Float64Array(PH * PW);
        for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) a[(y + top) * PW + x + left] = mask.data[y * W + x] === id ? 1 : 0;
        return a;
      });
      const p0 = aggregateJs(onehot, PH * PW);
      const f0 = await frameTensor(0);
      const [k0, , f16] = (await m.run("encode_key", f0)) as Tensor[];
      const masks = Tensor.fromTypedArray(Float32Array.from([...p0[1], ...p0[2]]), [2, 1, PH, PW]);
      const v0 = ((await m.run("encode_value", f0, f16, masks)) as Tensor).toTypedArray() as Float32Array;
      const f1 = await frameTensor(1);
      const [k1, f16Thin, , f8, f4] = (await m.run("encode_key", f1)) as Tensor[];
      // Memory read: affinity (2 m.q - |m|^2)/8 over memory n, top-20 softmax per query q, readout.
      const hw = (PH / 16) * (PW / 16);
      const mk = k0.toTypedArray() as Float32Array;
      const qk = k1.toTypedArray() as Float32Array;
      const readout = new Float32Array(2 * 512 * hw);
      for (let q = 0; q < hw; q++) {
        const aff: Array<[number, number]> = [];
        for (let n = 0; n < hw; n++) {
          let ab = 0;
          let aa = 0;
          for (let c = 0; c < 64; c++) {
            ab += mk[c * hw + n] * qk[c * hw + q];
            aa += mk[c * hw + n] * mk[c * hw + n];
          }
          aff.push([(2 * ab - aa) / 8, n]);
        }
        aff.sort((a, b) => b[0] - a[0]);
        const sel = aff.slice(0, 20);
        const e = sel.map(([v]) => Math.exp(v - sel[0][0]));
        const s = e.reduce((a, b) => a + b, 0);
        for (let o = 0; o < 2; o++)
          for (let c = 0; c < 512; c++) {
            let acc = 0;
            sel.forEach(([, n], j) => (acc += v0[(o * 512 + c) * hw + n] * (e[j] / s)));
            readout[(o * 512 + c) * hw + q] = acc;
          }
      }
      const r = Tensor.fromTypedArray(readout, [2, 512, PH / 16, PW / 16]);
      const dec = ((await m.run("decode", r, f16Thin, f8, f4)) as Tensor).toTypedArray() as Float32Array;
      const p1 = aggregateJs([Float64Array.from(dec.subarray(0, PH * PW)), Float64Array.from(dec.subarray(PH * PW))], PH * PW);
      const ref = readF32(join(out, "00001.f32"));
      let worst = 0;
      for (let c = 0; c < 3; c++)
        for (let y = 0; y < H; y++)
          for (let x = 0; x < W; x++) worst = Math.max(worst, Math.abs(p1[c][(y + top) * PW + x + left] - ref[c * H * W + y * W + x]));
      recordDrift("stcn one step by hand (JS memory read) vs reference: max |dprob|", worst, 1e-4);
      expect(worst).toBeLessThan(1e-4);
      for (const t of [f0, k0, f16, masks, f1, k1, f16Thin, f8, f4, r]) t.dispose();
    } finally {
      m.dispose();
    }
  });

  it("--size sets the working size from the shorter side and writes outputs at the native size", async () => {
    const out = join(dir, "ref-bike-48");
    const r = reference(["--frames", join(clips, "bike/frames"), "--mask", join(clips, "bike/masks/00000.png"), "--size", "48", "--out", out]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const objects = JSON.parse(readFileSync(join(out, "objects.json"), "utf8")) as Record<string, unknown>;
    // 100x60: shorter side 60 -> 48, longer floor(48 * 100 / 60) = 80; padded to 80x48 (no padding).
    expect(objects).toMatchObject({ native_size: [H, W], working_size: [48, 80], padded_size: [48, 80], pad_lrtb: [0, 0, 0, 0] });
    const labels = await readLabelPng(join(out, "00003.png"));
    expect([labels.width, labels.height]).toEqual([W, H]);
    expect(existsSync(join(out, "00003.f32"))).toBe(false);
  });

  it("objects joining later: a later mask adds its new ids from that frame on", async () => {
    const out = join(dir, "ref-judo");
    const r = reference(["--frames", join(clips, "judo/frames"), "--masks", join(clips, "judo/masks"), "--size", "0", "--out", out, "--save-probs"]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const objects = JSON.parse(readFileSync(join(out, "objects.json"), "utf8")) as Record<string, unknown>;
    expect(objects).toMatchObject({ ids: [1, 2], join_frames: [0, 5] });
    const joinMask = await readLabelPng(join(clips, "judo/masks/00005.png"));
    for (let t = 0; t < 8; t++) {
      const name = String(t).padStart(5, "0");
      const labels = await readLabelPng(join(out, `${name}.png`));
      const probs = readF32(join(out, `${name}.f32`));
      expect(probs.length).toBe(3 * H * W);
      const has2 = labels.data.includes(2);
      expect(has2).toBe(t >= 5);
      if (t < 5) expect(Math.max(...probs.subarray(2 * H * W))).toBe(0); // not joined yet: zero channel
      if (t === 5) {
        // On the new object's pixels the frame is the new mask (other objects' probabilities zeroed).
        for (let i = 0; i < H * W; i++) if (joinMask.data[i] === 2) expect(labels.data[i]).toBe(2);
      }
    }
  });

  it("refuses a mask whose size differs from the frames, naming it; --resize-masks accepts it", () => {
    const args = ["--frames", join(clips, "judo/frames"), "--masks", join(clips, "judo/masks-odd"), "--size", "0"];
    const bad = reference([...args, "--out", join(dir, "ref-odd")]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain(join(clips, "judo/masks-odd/00005.png"));
    expect(bad.stderr).toContain("99x60 but the frames are 100x60");
    const ok = reference([...args, "--resize-masks", "--out", join(dir, "ref-odd")]);
    expect(ok.stderr).toBe("");
    expect(ok.status).toBe(0);
  });
});
