import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cudaAvailable, loadModule, Tensor, type Module } from "../dist/index.js";
import { exportTestModules, tempDir } from "./helpers.js";

let dir: string;
let m: Module;

beforeAll(async () => {
  dir = exportTestModules();
  m = await loadModule(join(dir, "values.pt"));
});
afterAll(() => m?.dispose());

describe("errors reject with a code and a readable message", () => {
  it("missing file", async () => {
    const path = join(dir, "nope.pt");
    await expect(loadModule(path)).rejects.toMatchObject({
      code: "ERR_STCN_MODEL_NOT_FOUND",
      message: expect.stringContaining(path),
    });
  });

  it("not a TorchScript archive (no C++ backtrace in the message)", async () => {
    const path = join(tempDir(), "junk.pt");
    writeFileSync(path, "this is not a zip archive");
    const error = await loadModule(path).then(
      () => null,
      (e: Error & { code: string }) => e,
    );
    expect(error).toMatchObject({ code: "ERR_STCN_MODEL_LOAD" });
    expect(error!.message).toContain(path);
    expect(error!.message).not.toMatch(/frame #\d|Exception raised from/);
    // The JavaScript caller's stack is attached.
    expect(error!.stack).toContain("module-errors.test");
  });

  it("unknown method names the method and lists the module's methods", async () => {
    await expect(m.run("encode_everything")).rejects.toMatchObject({
      code: "ERR_STCN_UNKNOWN_METHOD",
      message: expect.stringMatching(/encode_everything.*forward/s),
    });
  });

  it("wrong argument count", async () => {
    await expect(m.run("add_int", 1)).rejects.toMatchObject({
      code: "ERR_STCN_ARGUMENT",
      message: expect.stringMatching(/"add_int" takes 2 argument\(s\), got 1/),
    });
    await expect(m.run("add_int", 1, 2, 3)).rejects.toMatchObject({ code: "ERR_STCN_ARGUMENT" });
  });

  it("wrong argument kind names the argument", async () => {
    await expect(m.run("add_int", 1, "two")).rejects.toMatchObject({
      code: "ERR_STCN_ARGUMENT",
      message: expect.stringMatching(/argument 2 \(b\): expected int, got a string/),
    });
    await expect(m.run("add_int", 1, 2.5)).rejects.toMatchObject({ code: "ERR_STCN_ARGUMENT" });
    await expect(m.run("identity", new Float32Array(3) as never)).rejects.toMatchObject({
      code: "ERR_STCN_ARGUMENT",
      message: expect.stringContaining("typed array"),
    });
  });

  it("wrong dtype and wrong shape carry LibTorch's reason and the method name", async () => {
    const a = Tensor.fromTypedArray(new Float32Array(6), [2, 3]);
    const b = Tensor.fromTypedArray(new Float64Array(6), [3, 2]);
    const dtypeError = await m.run("matmul", a, b).then(() => null, (e: Error) => e);
    expect(dtypeError).toMatchObject({ code: "ERR_STCN_RUN", message: expect.stringContaining('method "matmul" failed') });
    expect(dtypeError!.message).toMatch(/dtype|type/i);
    expect(dtypeError!.message).not.toMatch(/frame #\d|Exception raised from/);
    const c = Tensor.fromTypedArray(new Float32Array(6), [2, 3]);
    await expect(m.run("matmul", a, c)).rejects.toMatchObject({
      code: "ERR_STCN_RUN",
      message: expect.stringMatching(/matmul.*(shape|size|mat1)/s),
    });
  });

  it("bad tensor data", () => {
    expect(() => Tensor.fromTypedArray(new Float32Array(5), [2, 3])).toThrow(
      expect.objectContaining({ code: "ERR_STCN_TENSOR", message: expect.stringContaining("shape [2, 3] needs 6") }),
    );
    expect(() => Tensor.fromTypedArray(new Float32Array(4), [2, 2], "int32")).toThrow(
      expect.objectContaining({ code: "ERR_STCN_TENSOR" }),
    );
  });

  it("using a disposed tensor", async () => {
    const t = Tensor.fromTypedArray(new Float32Array(2), [2]);
    t.dispose();
    expect(() => t.shape).toThrow(expect.objectContaining({ code: "ERR_STCN_DISPOSED" }));
    await expect(m.run("identity", t)).rejects.toMatchObject({ code: "ERR_STCN_DISPOSED" });
  });

  it.skipIf(cudaAvailable())("cuda requested where CUDA is unavailable", async () => {
    await expect(loadModule(join(dir, "values.pt"), { device: "cuda" })).rejects.toMatchObject({
      code: "ERR_STCN_DEVICE",
      message: expect.stringContaining("CUDA is not available"),
    });
    const t = Tensor.fromTypedArray(new Float32Array(2), [2]);
    await expect(t.to("cuda:0")).rejects.toMatchObject({ code: "ERR_STCN_DEVICE" });
  });

  it("a bad device string", async () => {
    await expect(loadModule(join(dir, "values.pt"), { device: "tpu" })).rejects.toMatchObject({
      code: "ERR_STCN_DEVICE",
      message: expect.stringContaining('"tpu"'),
    });
  });
});
