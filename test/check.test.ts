/** The input-checking kit (ts/check.ts) and the one label-id scan (ts/io/labels.ts): pure TypeScript. */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  checkFiniteArray,
  checkInteger,
  checkInterval,
  checkLabelMap,
  checkLabelRange,
  checkOneOf,
  checkPlainName,
  checkPositive,
  checkRgbImage,
} from "../dist/check.js";
import { labelIds } from "../dist/index.js";
import { checkOutputFolder, ensureWritableDir, ioError } from "../dist/io/fs-errors.js";

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (error) {
    return (error as { code?: string }).code;
  }
  return undefined;
}

describe("check kit: one message style, one code", () => {
  it("numbers: `<name> must be <expectation>, got <value>`, ERR_STCN_ARGUMENT", () => {
    expect(checkInteger(3, "n", 1)).toBe(3);
    expect(() => checkInteger(0, "topK", 1)).toThrow("topK must be an integer >= 1, got 0");
    expect(() => checkInteger(2.5, "threads", 1, 8)).toThrow("threads must be an integer in [1, 8], got 2.5");
    expect(() => checkInteger("3", "n", 1)).toThrow('n must be an integer >= 1, got "3"');
    expect(checkInterval(1, "clip", 0, 1, "high")).toBe(1);
    expect(() => checkInterval(0, "clip", 0, 1, "high")).toThrow("clip must be in (0, 1], got 0");
    expect(() => checkInterval(1, "gtProb", 0, 1)).toThrow("gtProb must be in (0, 1), got 1");
    expect(() => checkPositive(Number.NaN, "sxy")).toThrow("sxy must be a positive finite number, got NaN");
    expect(() => checkOneOf("x", "feature", ["k", "q", "v"])).toThrow('feature must be one of k, q, v, got "x"');
    expect(() => checkFiniteArray(new Float32Array([1, 2, 3, Number.POSITIVE_INFINITY]), "features", 2, "point")).toThrow(
      "features (point 1) must be finite, got Infinity",
    );
    expect(codeOf(() => checkInteger(-1, "n", 0))).toBe("ERR_STCN_ARGUMENT");
  });

  it("images and label maps in memory: sizes and byte counts", () => {
    const ok = { data: new Uint8Array(12), width: 2, height: 2 };
    expect(checkRgbImage(ok, "frame 3")).toBe(ok);
    expect(() => checkRgbImage({ data: new Uint8Array(11), width: 2, height: 2 }, "frame 3")).toThrow(
      "frame 3.data has 11 bytes, expected 2x2x3 = 12 (packed RGB)",
    );
    expect(() => checkRgbImage({ data: new Uint8Array(0), width: 0, height: 2 }, "image")).toThrow("image.width must be an integer >= 1, got 0");
    expect(() => checkLabelMap({ data: new Uint8Array(5), width: 2, height: 2 }, "mask")).toThrow("mask.data has 5 labels, expected 2x2 = 4");
    expect(codeOf(() => checkLabelMap({ data: new Uint8Array(5), width: 2, height: 2 }, "mask"))).toBe("ERR_STCN_ARGUMENT");
  });

  it("CRF label ranges name the pixel (with a width) or the index", () => {
    const labels = new Uint8Array([0, 1, 0, 0, 2, 0]);
    expect(() => checkLabelRange(labels, 3, false)).not.toThrow();
    expect(() => checkLabelRange(labels, 2, false)).toThrow("label 2 at index 4 is out of range: with nLabels 2, labels are 0..1");
    expect(() => checkLabelRange(labels, 2, false, 3)).toThrow("label 2 at pixel (x 1, y 1) is out of range");
    expect(() => checkLabelRange(labels, 1, true)).toThrow("with nLabels 1 and zeroUnsure, labels are 0 (unsure) or 1..1");
  });
});

describe("labelIds: the one scan; each caller says whether a void label exists", () => {
  it("sorted non-zero labels; the void label is left out only when named", () => {
    const map = new Uint8Array([0, 7, 3, 255, 3, 0, 1]);
    expect(labelIds(map, { void: null })).toEqual([1, 3, 7, 255]);
    expect(labelIds(map, { void: 255 })).toEqual([1, 3, 7]);
    expect(labelIds(new Uint8Array(4), { void: null })).toEqual([]);
  });
});

describe("checkPlainName: names from data that become one path component", () => {
  it("accepts plain names, spaces and non-ASCII included", () => {
    for (const name of ["bike-packing", "v 1", "vidéo", "帧", "a.b", ".hidden"]) expect(checkPlainName(name, "name")).toBe(name);
  });
  it("refuses empty, '.', '..' anywhere, slashes, backslashes and NUL with ERR_STCN_UNSAFE_NAME naming the source", () => {
    for (const name of ["", ".", "..", "../x", "a/..", "a..b", "/etc", "a/b", "a\\b", "..\\x", "a\u0000b", 3, undefined]) {
      expect(codeOf(() => checkPlainName(name, "sequence name in val.txt")), String(name)).toBe("ERR_STCN_UNSAFE_NAME");
    }
    expect(() => checkPlainName("../../x", "sequence name in val.txt")).toThrow(/^sequence name in val.txt must be a plain name .*"..\/..\/x"$/);
  });
});

describe("fs errors as ERR_STCN_IO (ts/io/fs-errors.ts)", () => {
  it("wraps a Node fs error with its errno code and path; leaves other errors alone", async () => {
    const dir = mkdtempSync(join(tmpdir(), "stcn-check-"));
    let raw: unknown;
    try {
      readFileSync(dir);
    } catch (error) {
      raw = error;
    }
    const wrapped = ioError(raw, "read", dir) as Error & { code: string; fsCode: string; path: string };
    expect(wrapped.code).toBe("ERR_STCN_IO");
    expect(wrapped.fsCode).toBe("EISDIR");
    expect(wrapped.path).toBe(dir);
    expect(wrapped.message).toBe(`cannot read ${dir}: EISDIR (is a directory)`);
    const other = new Error("x");
    expect(ioError(other)).toBe(other);
  });
  it("ensureWritableDir / checkOutputFolder: a file is not a folder; a non-empty folder is refused unless overwrite; keep: false leaves nothing", async () => {
    const dir = mkdtempSync(join(tmpdir(), "stcn-check-"));
    writeFileSync(join(dir, "f"), "x");
    await expect(ensureWritableDir(join(dir, "f"))).rejects.toMatchObject({ code: "ERR_STCN_IO", fsCode: "ENOTDIR" });
    await expect(ensureWritableDir(join(dir, "f", "sub"))).rejects.toMatchObject({ code: "ERR_STCN_IO", fsCode: "ENOTDIR" });
    await expect(checkOutputFolder(dir)).rejects.toMatchObject({ code: "ERR_STCN_OUTPUT_NOT_EMPTY" });
    await expect(checkOutputFolder(dir, { overwrite: true })).resolves.toBe(true);
    await expect(ensureWritableDir(join(dir, "new", "deeper"), "--out", false)).resolves.toBe(false);
    expect(readdirSync(dir)).toEqual(["f"]);
  });
});
