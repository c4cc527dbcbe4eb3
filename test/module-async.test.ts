import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getNumThreads, loadModule, setNumThreads, Tensor, type Module } from "../dist/index.js";
import { native } from "../dist/native.js";
import { exportTestModules } from "./helpers.js";

let dir: string;
let slow: Module;
let slow2: Module;

beforeAll(async () => {
  dir = exportTestModules();
  slow = await loadModule(join(dir, "slow.pt"));
  slow2 = await loadModule(join(dir, "slow.pt"));
});
afterAll(() => {
  slow?.dispose();
  slow2?.dispose();
});

describe("runs happen off the main thread", () => {
  it("the event loop keeps ticking while a multi-second method runs", async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 20);
    const start = performance.now();
    const steps = await slow.run("spin", 1500);
    const elapsed = performance.now() - start;
    clearInterval(timer);
    expect(steps).toBe(1500 * 100);
    expect(elapsed).toBeGreaterThan(500);
    // A blocked loop would fire the interval at most once; a free one about elapsed/20 times.
    expect(ticks).toBeGreaterThan(Math.min(10, (elapsed / 20) * 0.25));
  });

  it("two modules run concurrently (both promises pending at once, both resolve)", async () => {
    let settled = 0;
    const a = slow.run("spin", 150).then((v) => (settled++, v));
    const b = slow2.run("spin", 150).then((v) => (settled++, v));
    expect(settled).toBe(0);
    expect(await Promise.all([a, b])).toEqual([15000, 15000]);
  });

  it("dispose() during a run is safe: the run completes, later runs reject", async () => {
    const m = await loadModule(join(dir, "slow.pt"));
    const running = m.run("spin", 100);
    m.dispose();
    expect(m.disposed).toBe(true);
    expect(await running).toBe(10000);
    await expect(m.run("spin", 1)).rejects.toMatchObject({ code: "ERR_STCN_DISPOSED" });
  });

  it("a tensor disposed while a run uses it does not break the run", async () => {
    const m = await loadModule(join(dir, "values.pt"));
    const t = Tensor.fromTypedArray(new Float32Array(1 << 20).fill(3), [1 << 20]);
    const running = m.run("forward", t);
    t.dispose();
    const out = (await running) as Tensor;
    expect((out.toTypedArray() as Float32Array)[12345]).toBe(6);
    m.dispose();
  });

  it("setNumThreads reaches the worker threads that run methods, also after they ran", async () => {
    const m = await loadModule(join(dir, "values.pt"));
    const x = Tensor.fromTypedArray(new Float32Array(1 << 16).fill(1), [256, 256]);
    const before = getNumThreads();
    const lanes = [...Array(native().executorLanes()).keys()];
    const onWorkers = () => Promise.all(lanes.map((lane) => native().workerNumThreads(lane)));
    try {
      // Parallel LibTorch work on the lanes first (OpenMP fixes a thread's count there).
      await Promise.all([0, 1, 2, 3].map(() => m.run("matmul", x, x)));
      expect(await onWorkers()).toEqual(lanes.map(() => before));
      setNumThreads(1);
      expect(await onWorkers()).toEqual(lanes.map(() => 1));
      await Promise.all([0, 1, 2, 3].map(() => m.run("matmul", x, x)));
      setNumThreads(3);
      expect(await onWorkers()).toEqual(lanes.map(() => 3));
    } finally {
      setNumThreads(before);
      m.dispose();
    }
  });
});
