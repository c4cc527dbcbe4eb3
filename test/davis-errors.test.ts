/**
 * Wrong inputs to the DAVIS evaluator: one clear line naming sequence and frame, a non-zero exit
 * code, and no CSV written (neither by the library nor by the CLI).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { encode } from "fast-png";
import { describe, expect, it } from "vitest";
import { evaluateDavis, isStcnError } from "../dist/index.js";
import { encodeLabelPng } from "../dist/io/png.js";
import { repoRoot, tempDir } from "./helpers.js";

const W = 16;
const H = 12;
const cli = join(repoRoot, "dist", "cli.js");

function objects(): Uint8Array {
  const m = new Uint8Array(W * H);
  for (let y = 2; y < 6; y++) for (let x = 2; x < 6; x++) m[y * W + x] = 1;
  for (let y = 7; y < 11; y++) for (let x = 9; x < 14; x++) m[y * W + x] = 2;
  return m;
}

/** Root with sequences a and b (5 frames, 2 objects), results equal to the GT. */
function fixture(): { root: string; results: string } {
  const root = tempDir("stcn-davis-err-");
  const results = join(root, "results");
  for (const name of ["a", "b"]) {
    mkdirSync(join(root, "Annotations/480p", name), { recursive: true });
    mkdirSync(join(root, "JPEGImages/480p", name), { recursive: true });
    mkdirSync(join(results, name), { recursive: true });
    for (let t = 0; t < 5; t++) {
      const id = String(t).padStart(5, "0");
      writeFileSync(join(root, "Annotations/480p", name, `${id}.png`), encodeLabelPng(objects(), W, H));
      writeFileSync(join(root, "JPEGImages/480p", name, `${id}.jpg`), "");
      writeFileSync(join(results, name, `${id}.png`), encodeLabelPng(objects(), W, H));
    }
  }
  mkdirSync(join(root, "ImageSets/2017"), { recursive: true });
  writeFileSync(join(root, "ImageSets/2017/val.txt"), "a\nb\n");
  return { root, results };
}

function csvs(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".csv")) : [];
}

/** Library and CLI both refuse with `pattern`, exit != 0, one error line on stderr, no CSV anywhere. */
async function expectRefused(
  setup: (f: { root: string; results: string }) => void,
  pattern: RegExp,
  extra: string[] = [],
  options: { sequences?: string[] } = {},
): Promise<void> {
  const f = fixture();
  setup(f);
  let caught: unknown;
  try {
    await evaluateDavis({ davisRoot: f.root, resultsPath: f.results, workers: 2, sequences: options.sequences });
  } catch (error) {
    caught = error;
  }
  expect(isStcnError(caught), String(caught)).toBe(true);
  expect((caught as Error).message).toMatch(pattern);
  expect((caught as Error).message).not.toContain("\n");
  expect(csvs(f.results)).toEqual([]);

  const run = spawnSync(process.execPath, [cli, "evaluate", "--davis", f.root, "--results", f.results, ...extra], { encoding: "utf8" });
  expect(run.status).not.toBe(0);
  // Progress lines ("evaluate: frames (N)") may come first; the error is one `stcn: ` line, and the last.
  const lines = run.stderr.trim().split("\n");
  const errors = lines.filter((l) => l.startsWith("stcn: "));
  expect(errors.length, run.stderr).toBe(1);
  expect(lines.at(-1)).toBe(errors[0]);
  expect(errors[0]).toMatch(pattern);
  expect(csvs(f.results)).toEqual([]);
}

describe("DAVIS evaluator input errors", () => {
  it("the fixture itself evaluates (J&F = 1), so each case below fails for its own reason", async () => {
    const f = fixture();
    const e = await evaluateDavis({ davisRoot: f.root, resultsPath: f.results, out: false });
    expect(e.global["J&F-Mean"]).toBe(1);
    expect(e.objects.map((o) => o.name)).toEqual(["a_1", "a_2", "b_1", "b_2"]);
  });

  it("missing result frame", async () => {
    await expectRefused((f) => rmSync(join(f.results, "b", "00002.png")), /sequence b, frame 00002: result .*00002\.png is missing/);
  });

  it("missing first/last result frames are fine (the protocol never reads them)", async () => {
    const f = fixture();
    rmSync(join(f.results, "a", "00000.png"));
    rmSync(join(f.results, "a", "00004.png"));
    const e = await evaluateDavis({ davisRoot: f.root, resultsPath: f.results, out: false });
    expect(e.global["J&F-Mean"]).toBe(1);
  });

  it("result size differs from the annotation", async () => {
    await expectRefused(
      (f) => writeFileSync(join(f.results, "a", "00001.png"), encodeLabelPng(new Uint8Array((W - 1) * H), W - 1, H)),
      /sequence a, frame 00001: result is 15x12 but the annotation is 16x12/,
    );
  });

  it("RGB result PNG", async () => {
    await expectRefused(
      (f) => writeFileSync(join(f.results, "a", "00003.png"), encode({ width: W, height: H, data: new Uint8Array(W * H * 3), channels: 3, depth: 8 })),
      /sequence a, frame 00003 \(result\): .*00003\.png is an RGB PNG/,
    );
  });

  it("grey+alpha result PNG", async () => {
    await expectRefused(
      (f) => writeFileSync(join(f.results, "b", "00001.png"), encode({ width: W, height: H, data: new Uint8Array(W * H * 2), channels: 2, depth: 8 })),
      /sequence b, frame 00001 \(result\): .*grey\+alpha PNG/,
    );
  });

  it("8-bit greyscale results are read as label values (as PIL/numpy do)", async () => {
    const f = fixture();
    writeFileSync(join(f.results, "a", "00002.png"), encode({ width: W, height: H, data: objects(), channels: 1, depth: 8 }));
    const e = await evaluateDavis({ davisRoot: f.root, resultsPath: f.results, out: false });
    expect(e.global["J&F-Mean"]).toBe(1);
  });

  it("results with more objects than the ground truth: the official message", async () => {
    await expectRefused(
      (f) => {
        const m = objects();
        m[0] = 3;
        writeFileSync(join(f.results, "b", "00003.png"), encodeLabelPng(m, W, H));
      },
      /sequence b, frame 00003: In your PNG files there is an index higher than the number of objects in the sequence! \(index 3, the ground truth has 2 object/,
    );
  });

  it("unknown sequence", async () => {
    await expectRefused(() => undefined, /unknown sequence "zzz": not listed in .*val\.txt/, ["--sequences", "a,zzz"], { sequences: ["a", "zzz"] });
  });

  it("empty ImageSets list", async () => {
    await expectRefused((f) => writeFileSync(join(f.root, "ImageSets/2017/val.txt"), "\n  \n"), /set "val": .*val\.txt lists no sequences/);
  });

  it("missing ImageSets list, sequence without images, fewer annotations than images", async () => {
    await expectRefused((f) => rmSync(join(f.root, "ImageSets/2017/val.txt")), /set "val": .*val\.txt not found/);
    await expectRefused((f) => rmSync(join(f.root, "JPEGImages/480p/b"), { recursive: true }), /sequence b: no images/);
    await expectRefused((f) => writeFileSync(join(f.root, "JPEGImages/480p/a/00005.jpg"), ""), /sequence a: 6 images but only 5 annotations/);
  });

  it("bad arguments: task, workers", async () => {
    const f = fixture();
    await expect(evaluateDavis({ davisRoot: f.root, resultsPath: f.results, task: "unsupervised" })).rejects.toThrow(/only semi-supervised/);
    await expect(evaluateDavis({ davisRoot: f.root, resultsPath: f.results, workers: -1 })).rejects.toThrow(/workers must be/);
    const run = spawnSync(process.execPath, [cli, "evaluate", "--davis", f.root, "--results", f.results, "--task", "unsupervised"], { encoding: "utf8" });
    expect(run.status).not.toBe(0);
    expect(csvs(f.results)).toEqual([]);
  });
});
