import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadModule, Tensor, type Module } from "../dist/index.js";
import { exportTestModules } from "./helpers.js";

let dir: string;
let m: Module;

beforeAll(async () => {
  dir = exportTestModules();
  m = await loadModule(join(dir, "values.pt"));
});
afterAll(() => m?.dispose());

describe("Module basics", () => {
  it("lists methods and device", () => {
    expect(m.methods).toEqual(expect.arrayContaining(["forward", "identity", "add_int", "dict_out", "detections"]));
    expect(m.device).toBe("cpu");
    expect(m.signature("add_int")).toContain("int a, int b");
  });
});

describe("every value kind round-trips with exact values", () => {
  const cases: Array<[string, Tensor]> = [
    ["float32", Tensor.fromTypedArray(new Float32Array([1.5, -2.25, 3.125, 1e-20, 3.4e38, -0]), [2, 3])],
    ["float64", Tensor.fromTypedArray(new Float64Array([Math.PI, -1e300, 5e-324]), [3])],
    ["uint8", Tensor.fromTypedArray(new Uint8Array([0, 1, 127, 128, 255, 7]), [3, 2])],
    ["int8", Tensor.fromTypedArray(new Int8Array([-128, 127, 0]), [3])],
    ["int16", Tensor.fromTypedArray(new Int16Array([-32768, 32767]), [2])],
    ["int32", Tensor.fromTypedArray(new Int32Array([-2147483648, 2147483647, 42]), [1, 3])],
    ["int64", Tensor.fromTypedArray(new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n, 5n]), [3])],
    ["bool", Tensor.fromTypedArray(new Uint8Array([1, 0, 1]), [3], "bool")],
  ];
  for (const [name, t] of cases) {
    it(`Tensor ${name}`, async () => {
      const out = (await m.run("identity", t)) as Tensor;
      expect(out).toBeInstanceOf(Tensor);
      expect(out.dtype).toBe(name);
      expect(out.shape).toEqual(t.shape);
      expect(out.toTypedArray()).toEqual(t.toTypedArray());
      expect(await m.run("dtype_of", t)).toBe(name);
      out.dispose();
    });
  }

  it("float16 and bfloat16 from raw bits, widened to float32 on the way out", async () => {
    const half = Tensor.fromTypedArray(new Uint16Array([0x3c00, 0xc000, 0x3555]), [3], "float16");
    expect(half.dtype).toBe("float16");
    expect(Array.from(half.toTypedArray())).toEqual([1, -2, 0.333251953125]);
    const bf = Tensor.fromTypedArray(new Uint16Array([0x3f80, 0x4049]), [2], "bfloat16");
    expect(Array.from(bf.toTypedArray())).toEqual([1, 3.140625]);
    const out = (await m.run("identity", half)) as Tensor;
    expect(out.dtype).toBe("float16");
  });

  it("int / float / bool / str", async () => {
    expect(await m.run("add_int", 2, 40)).toBe(42);
    expect(await m.run("add_int", 2n ** 40n, 1)).toBe(2 ** 40 + 1);
    expect(await m.run("add_float", 0.5, 2)).toBe(2.5);
    expect(await m.run("negate", true)).toBe(false);
    expect(await m.run("greet", "judo ✓")).toBe("hello judo ✓");
  });

  it("int64 results beyond 2^53 come back as bigint", async () => {
    expect(await m.run("add_int", 2n ** 62n, 1)).toBe(2n ** 62n + 1n);
  });

  it("lists of tensors, ints and floats", async () => {
    const a = Tensor.fromTypedArray(new Float32Array([1, 2]), [2]);
    const b = Tensor.fromTypedArray(new Float32Array([10, 20]), [2]);
    const sum = (await m.run("sum_list", [a, b])) as Tensor;
    expect(Array.from(sum.toTypedArray())).toEqual([11, 22]);
    expect(await m.run("int_list", 4)).toEqual([0, 1, 4, 9]);
    expect(await m.run("float_list", [1, 3, 0.5])).toEqual([0.5, 1.5, 0.25]);
  });

  it("tuples in and out", async () => {
    const x = Tensor.fromTypedArray(new Int32Array([1, 2, 3, 4]), [2, 2]);
    const [y, dim, dtype] = (await m.run("pair", x)) as [Tensor, number, string];
    expect(Array.from(y.toTypedArray())).toEqual([2, 3, 4, 5]);
    expect(dim).toBe(2);
    expect(dtype).toBe("int32");
    expect(await m.run("tuple_in", [7, 0.25, "t"])).toBe("t:7:0.25");
  });

  it("Dict[str, Tensor] in and out, List[Dict[str, Tensor]] out", async () => {
    const x = Tensor.fromTypedArray(new Float32Array([1, 2, 3]), [3]);
    const d = (await m.run("dict_out", x)) as Record<string, Tensor>;
    expect(Object.keys(d).sort()).toEqual(["double", "square"]);
    expect(Array.from(d.double!.toTypedArray())).toEqual([2, 4, 6]);
    expect(Array.from(d.square!.toTypedArray())).toEqual([1, 4, 9]);
    const s = (await m.run("dict_in", { a: x, b: d.square! })) as Tensor;
    expect(Array.from(s.toTypedArray())).toEqual([20]);
    const dets = (await m.run("detections", 3)) as Array<Record<string, Tensor>>;
    expect(dets).toHaveLength(3);
    expect(dets[2]!.boxes!.shape).toEqual([2, 4]);
    expect(dets[2]!.labels!.dtype).toBe("int64");
    expect(dets[0]!.boxes!.shape).toEqual([0, 4]);
  });

  it("default arguments may be omitted; None comes back as null", async () => {
    const x = Tensor.fromTypedArray(new Float32Array([1]), [1]);
    expect(Array.from(((await m.run("optional_in", x)) as Tensor).toTypedArray())).toEqual([2.5]);
    expect(Array.from(((await m.run("optional_in", x, 1)) as Tensor).toTypedArray())).toEqual([2]);
    expect(await m.run("nothing", x)).toBeNull();
  });

  it("toTypedArray is a copy; fromTypedArray copies its input", async () => {
    const src = new Float32Array([1, 2, 3]);
    const t = Tensor.fromTypedArray(src, [3]);
    src[0] = 100;
    const out = t.toTypedArray() as Float32Array;
    expect(out[0]).toBe(1);
    out[1] = 50;
    expect(Array.from(t.toTypedArray())).toEqual([1, 2, 3]);
  });

  it("to(device) on CPU keeps data; Symbol.dispose disposes", async () => {
    const t = Tensor.fromTypedArray(new Float32Array([4, 5]), [2]);
    const u = await t.to("cpu");
    expect(u.device).toBe("cpu");
    expect(Array.from(u.toTypedArray())).toEqual([4, 5]);
    const disposeKey = (Symbol as { dispose?: symbol }).dispose ?? Symbol.for("nodejs.dispose");
    (u as unknown as Record<symbol, () => void>)[disposeKey]!();
    expect(u.disposed).toBe(true);
  });
});
