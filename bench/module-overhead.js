// Per-call overhead of Module.run on a tiny TorchScript module vs Python torch.jit.load(...)(...)
// on the same file, same machine, same thread count, in one run.
//   node bench/module-overhead.js [--calls 3000]
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getNumThreads, loadModule, Tensor } from "../dist/index.js";

const python = process.env.STCN_PYTHON ?? "/usr/bin/python3";
const argCalls = process.argv.indexOf("--calls");
const calls = argCalls > 0 ? Number(process.argv[argCalls + 1]) : 3000;
const root = new URL("..", import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), "stcn-bench-"));
execFileSync(python, [join(root, "torchscript/test_modules.py"), dir]);
const model = join(dir, "values.pt");
const threads = getNumThreads();

// Ours: sequential awaited calls (each crosses to a worker thread and back).
const m = await loadModule(model);
const x = Tensor.fromTypedArray(new Float32Array(16).fill(1), [16]);
for (let i = 0; i < 200; i++) (await m.run("forward", x)).dispose();
let start = process.hrtime.bigint();
for (let i = 0; i < calls; i++) (await m.run("forward", x)).dispose();
const oursUs = Number(process.hrtime.bigint() - start) / 1e3 / calls;

// Ours, 4 calls in flight at a time (throughput when the caller does not wait for each result).
start = process.hrtime.bigint();
for (let i = 0; i < calls; i += 4) {
  const outs = await Promise.all([m.run("forward", x), m.run("forward", x), m.run("forward", x), m.run("forward", x)]);
  for (const o of outs) o.dispose();
}
const oursParallelUs = Number(process.hrtime.bigint() - start) / 1e3 / calls;

// A compute-bound case for scale: the smoke run's tiny conv net on 1x3x224x224.
const tiny = await loadModule(join(dir, "tiny.pt"));
const img = Tensor.fromTypedArray(new Float32Array(3 * 224 * 224).fill(0.5), [1, 3, 224, 224]);
const convCalls = Math.max(20, Math.floor(calls / 30));
for (let i = 0; i < 10; i++) (await tiny.run("forward", img)).dispose();
start = process.hrtime.bigint();
for (let i = 0; i < convCalls; i++) (await tiny.run("forward", img)).dispose();
const oursConvUs = Number(process.hrtime.bigint() - start) / 1e3 / convCalls;

const py = `
import time, torch
torch.set_num_threads(${threads})
m = torch.jit.load(${JSON.stringify(model)})
x = torch.ones(16)
with torch.inference_mode():
    for _ in range(200): m(x)
    t = time.perf_counter()
    for _ in range(${calls}): m(x)
    print((time.perf_counter() - t) / ${calls} * 1e6)
    c = torch.jit.load(${JSON.stringify(join(dir, "tiny.pt"))})
    img = torch.full((1, 3, 224, 224), 0.5)
    for _ in range(10): c(img)
    t = time.perf_counter()
    for _ in range(${convCalls}): c(img)
    print((time.perf_counter() - t) / ${convCalls} * 1e6)
`;
const [pythonUs, pythonConvUs] = execFileSync(python, ["-c", py], { encoding: "utf8" }).trim().split("\n").map(Number);

console.log(`module.run overhead, tiny module (x * 2 on 16 floats), ${calls} calls, ${threads} threads`);
console.log(`  stcn-node  Module.run (awaited one by one): ${oursUs.toFixed(1)} us/call`);
console.log(`  stcn-node  Module.run (4 in flight):        ${oursParallelUs.toFixed(1)} us/call`);
console.log(`  Python     torch.jit.load(...)(x):          ${pythonUs.toFixed(1)} us/call`);
console.log(`  ratio (Python / ours, awaited):             ${(pythonUs / oursUs).toFixed(2)}x`);
console.log(`tiny conv net on 1x3x224x224, ${convCalls} calls`);
console.log(`  stcn-node  ${(oursConvUs / 1000).toFixed(2)} ms/call   Python ${(pythonConvUs / 1000).toFixed(2)} ms/call   ratio ${(pythonConvUs / oursConvUs).toFixed(2)}x`);
m.dispose();
tiny.dispose();
