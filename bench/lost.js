#!/usr/bin/env node
/**
 * LOST speed on one 854x480 judo frame (../shared/data/clips/judo/frames/00000.jpg): ours (DINO +
 * Gram through the addon, graph steps in TypeScript, nearest upsampling) vs the study's eager Python
 * pipeline on the same weights (torchvision preprocessing, forward hook on the last qkv during
 * get_last_selfattention, LOST's torch steps, 4-connected component, F.interpolate nearest-exact),
 * same thread count, in one run. Random weights (the timing does not depend on them).
 *
 *   node bench/lost.js
 *
 * Env: BENCH_ARCH (vit_small | vit_base, default vit_small), BENCH_RUNS (default 3),
 *      STCN_PYTHON (default /usr/bin/python3).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { getNumThreads, loadModule, lost } from "../dist/index.js";
import { readRgb } from "../dist/io/image.js";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const python = process.env.STCN_PYTHON ?? "/usr/bin/python3";
const arch = process.env.BENCH_ARCH ?? "vit_small";
const runs = Number(process.env.BENCH_RUNS ?? 3);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const dir = mkdtempSync(join(tmpdir(), "stcn-bench-lost-"));
try {
  const modelPath = join(dir, "dino.pt");
  execFileSync(python, [join(repo, "torchscript", "export_dino.py"), "--arch", arch, "--random-init", "--seed", "0", "--out", modelPath]);
  const framePath = join(repo, "..", "shared", "data", "clips", "judo", "frames", "00000.jpg");
  const image = await readRgb(framePath);
  const threads = getNumThreads();
  console.log(
    `lost bench: ${arch}/16, ${image.width}x${image.height} (grid 30x54, N=1620), k=100; threads ${threads} ` +
      `(machine: ${availableParallelism()} cores, load ${loadavg().map((l) => l.toFixed(1)).join(" ")})`,
  );

  const model = await loadModule(modelPath);
  let result = await lost(model, image); // warm-up
  const total = [];
  const feat = [];
  const graph = [];
  for (let r = 0; r < runs; r++) {
    const t = performance.now();
    result = await lost(model, image);
    total.push(performance.now() - t);
    feat.push(result.timings.featuresMs);
    graph.push(result.timings.graphMs);
  }
  model.dispose();

  const raw = join(dir, "frame.rgb");
  writeFileSync(raw, image.data);
  const script = String.raw`
import sys, os, json, time, numpy as np, torch, torch.nn.functional as F, torchvision.transforms as T
sys.path.insert(0, os.path.join(sys.argv[1], "torchscript"))
from dino import VisionTransformer
torch.set_num_threads(int(sys.argv[5]))
extra = {"metadata.json": ""}
scripted = torch.jit.load(sys.argv[2], map_location="cpu", _extra_files=extra)
meta = json.loads(extra["metadata.json"])
model = VisionTransformer(meta["arch"]); model.load_state_dict(scripted.state_dict(), strict=True); model.eval()
h, w = 480, 854
rgb = np.fromfile(sys.argv[3], dtype=np.uint8).reshape(h, w, 3)
feat = {}
model.blocks[-1].attn.qkv.register_forward_hook(lambda m, i, o: feat.__setitem__("qkv", o))
def once():
    t0 = time.perf_counter()
    x = T.Compose([T.ToTensor(), T.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))])(rgb)
    p = torch.zeros(1, 3, 480, 864); p[0, :, :h, :w] = x
    with torch.no_grad():
        att = model.get_last_selfattention(p)
        nh, nb = att.shape[1], att.shape[2]
        qkv = feat["qkv"].reshape(1, nb, 3, nh, -1 // nh).permute(2, 0, 3, 1, 4)
        k = qkv[1].transpose(1, 2).reshape(1, nb, -1)[:, 1:, :]
        A = (k @ k.transpose(1, 2))[0]
    t1 = time.perf_counter()
    S = A.clone(); S.fill_diagonal_(0); S[S < 0] = 0
    cent = -torch.sum(S > 0, dim=1).type(torch.float32)
    order = torch.argsort(cent, descending=True)
    seed = order[0]; pot = order[:100]
    sim = pot[A[seed, pot] > 0.0]
    M = torch.sum(A[sim, :], dim=0)
    fg = (M.reshape(30, 54) > 0).numpy()
    seen = np.zeros_like(fg); r0, c0 = int(seed) // 54, int(seed) % 54; seen[r0, c0] = True; st = [(r0, c0)]
    while st:
        r, c = st.pop()
        for rr, cc in ((r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)):
            if 0 <= rr < 30 and 0 <= cc < 54 and fg[rr, cc] and not seen[rr, cc]:
                seen[rr, cc] = True; st.append((rr, cc))
    up = F.interpolate(torch.from_numpy(seen.astype(np.float32))[None, None], size=(h, w), mode="nearest-exact")
    t2 = time.perf_counter()
    return (t1 - t0) * 1e3, (t2 - t1) * 1e3
once()
res = [once() for _ in range(int(sys.argv[4]))]
print(json.dumps({"features": [r[0] for r in res], "graph": [r[1] for r in res]}))
`;
  const ref = JSON.parse(
    execFileSync(python, ["-c", script, repo, modelPath, raw, String(runs), String(threads)], { encoding: "utf8", maxBuffer: 1 << 24 }),
  );
  const refFeat = median(ref.features);
  const refGraph = median(ref.graph);
  const refTotal = refFeat + refGraph;
  const oursTotal = median(total);
  console.log(
    `  ours   : ${oursTotal.toFixed(0)} ms/frame (DINO + Gram ${median(feat).toFixed(0)} ms, graph + upsampling ${median(graph).toFixed(1)} ms)`,
  );
  console.log(
    `  python : ${refTotal.toFixed(0)} ms/frame (eager DINO + Gram ${refFeat.toFixed(0)} ms, LOST steps + upsampling ${refGraph.toFixed(1)} ms)`,
  );
  console.log(`  ratio  : ${(refTotal / oursTotal).toFixed(2)}x (python / ours; > 1 = ours faster), median of ${runs} after a warm-up`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
