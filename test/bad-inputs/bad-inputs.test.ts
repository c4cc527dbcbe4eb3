/**
 * The bad-input corpus (issue 14, "Hardening"), through the CLI as a user meets it: every case gets
 * one line `stcn: <message> [ERR_STCN_...]`, exit 1, and nothing half-written. The fixtures are
 * generated here (test/bad-inputs/corpus.ts), never stored.
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { getTrustedModelDir, loadModule, setTrustedModelDir, Stcn } from "../../dist/index.js";
import { beforeAll, describe, expect, it } from "vitest";
import { dataPath, tempDir } from "../helpers.js";
import {
  broken,
  clip,
  davisRoot,
  errorLines,
  H,
  hugePalettePng,
  jpegFrame,
  jpegWithHeaderSize,
  mask,
  runCli,
  stcnModels,
  W,
  wrongMasks,
  type CliRun,
} from "./corpus.js";

/** Every file under `dir` (relative paths, sorted). */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

/** Exit 1 and exactly one stderr line `stcn: ... [code]` mentioning each of `mentions`. */
function expectRefused(run: CliRun, code: string, ...mentions: string[]): string {
  // A usage error (ERR_STCN_ARGUMENT) exits 2 and ends with the help hint; any other error exits 1.
  const usage = code === "ERR_STCN_ARGUMENT";
  expect(run.status, run.stderr).toBe(usage ? 2 : 1);
  const lines = errorLines(run);
  expect(lines, run.stderr).toHaveLength(1);
  const line = lines[0] as string;
  expect(line).toMatch(new RegExp(`^stcn: .+ \\[${code}\\]${usage ? "; see: stcn \\S+ --help" : ""}$`));
  // It is the last thing printed: nothing (no progress) comes after the error.
  expect(run.stderr.trimEnd().endsWith(line), run.stderr).toBe(true);
  for (const m of mentions) expect(line).toContain(m);
  return line;
}

let root: string;
let models: ReturnType<typeof stcnModels>;
let good: { frames: string; mask: string };
let huge: string;

beforeAll(async () => {
  root = tempDir("stcn-bad-inputs-");
  models = stcnModels(join(root, "models"));
  good = await clip(join(root, "good"));
  huge = join(root, "huge-30000.png");
  await hugePalettePng(huge);
});

const segment = (frames: string, maskPath: string, out: string, ...more: string[]) =>
  runCli(["segment", "--model", models.good, "--frames", frames, "--mask", maskPath, "--out", out, "--no-progress", "--size", "0", ...more]);

describe("paths from data are plain names (nothing written outside --out)", () => {
  const annotations = (video: string) =>
    JSON.stringify({ [video]: [{ name: `${video}/0001.jpg`, labels: [{ box2d: { x1: 1, x2: 20, y1: 1, y2: 20 } }] }] });

  it("boxes-to-davis: a Something-Else video key ../../x", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "annotations.json"), annotations("../../x"));
    const out = join(dir, "a", "b", "out");
    const r = await runCli(["boxes-to-davis", "--annotations", join(dir, "annotations.json"), "--out", out, "--size", "64x48"]);
    expectRefused(r, "ERR_STCN_UNSAFE_NAME", "../../x");
    expect(filesUnder(dir)).toEqual(["annotations.json"]);
  });

  it("boxes-to-davis: a --set name ../../evil", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "annotations.json"), annotations("v1"));
    const out = join(dir, "a", "b", "out");
    const r = await runCli(["boxes-to-davis", "--annotations", join(dir, "annotations.json"), "--out", out, "--size", "64x48", "--set", "../../evil"]);
    expectRefused(r, "ERR_STCN_UNSAFE_NAME", "set");
    expect(filesUnder(dir)).toEqual(["annotations.json"]);
  });

  it("boxes-to-davis: a backslash or NUL in a video key", async () => {
    for (const key of ["..\\..\\x", "a\u0000b"]) {
      const dir = tempDir();
      writeFileSync(join(dir, "annotations.json"), annotations(key));
      const r = await runCli(["boxes-to-davis", "--annotations", join(dir, "annotations.json"), "--out", join(dir, "out"), "--size", "64x48"]);
      expectRefused(r, "ERR_STCN_UNSAFE_NAME");
      expect(filesUnder(dir)).toEqual(["annotations.json"]);
    }
  });

  it("reproduce: a val.txt line ../../escape", async () => {
    const dir = tempDir();
    const davis = await davisRoot(join(dir, "davis"), ["seq"], ["seq", "../../escape"]);
    const before = filesUnder(dir);
    const out = join(dir, "runs", "out");
    const r = await runCli(["reproduce", "--davis", davis, "--stcn", models.good, "--methods", "gt", "--out", out, "--no-progress"]);
    expectRefused(r, "ERR_STCN_UNSAFE_NAME", "../../escape", "val.txt");
    expect(filesUnder(dir)).toEqual(before);
  });

  it("evaluate: a val.txt line naming a path is refused before anything is read or written", async () => {
    const dir = tempDir();
    const davis = await davisRoot(join(dir, "davis"), ["seq"], ["seq", "/etc"]);
    const before = filesUnder(dir);
    const r = await runCli(["evaluate", "--davis", davis, "--results", join(davis, "Annotations", "480p")]);
    expectRefused(r, "ERR_STCN_UNSAFE_NAME", '"/etc"');
    expect(filesUnder(dir)).toEqual(before);
  });
});

describe("images: the pixel count from the header, before decoding", () => {
  // Measured peak RSS of the child (MB): segment 232 (the addon and the model are loaded first),
  // crf 66, evaluate and annotate below 100. Decoding the file would take 900 MB and more.
  it("a 30000x30000 palette PNG (875 KB) as segment's --mask: refused, peak RSS < 300 MB", async () => {
    const out = join(root, "huge-segment");
    const r = await segment(good.frames, huge, out);
    expectRefused(r, "ERR_STCN_IMAGE_TOO_LARGE", huge, "30000x30000");
    expect(r.peakRssMb).toBeLessThan(300);
    expect(existsSync(out)).toBe(false);
  });

  it("the same PNG as crf's --mask: refused, peak RSS < 300 MB", async () => {
    const out = join(root, "huge-crf.png");
    const r = await runCli(["crf", "--image", join(good.frames, "00000.jpg"), "--mask", huge, "--out", out]);
    expectRefused(r, "ERR_STCN_IMAGE_TOO_LARGE", huge);
    expect(r.peakRssMb).toBeLessThan(300);
    expect(existsSync(out)).toBe(false);
  });

  it("the same PNG as a result frame in evaluate: refused, peak RSS < 300 MB, no CSV", async () => {
    const dir = tempDir();
    const davis = await davisRoot(join(dir, "davis"), ["seq"]);
    const results = join(dir, "results", "seq");
    mkdirSync(results, { recursive: true });
    for (let t = 0; t < 3; t++) writeFileSync(join(results, `0000${t}.png`), t === 1 ? readFileSync(huge) : mask());
    const r = await runCli(["evaluate", "--davis", davis, "--results", join(dir, "results")]);
    expectRefused(r, "ERR_STCN_IMAGE_TOO_LARGE", "00001.png");
    expect(r.peakRssMb).toBeLessThan(300);
    expect(filesUnder(join(dir, "results"))).toEqual(["seq/00000.png", "seq/00001.png", "seq/00002.png"]);
  });

  it("the same PNG as annotate's --gt-mask: refused, peak RSS < 300 MB", async () => {
    const out = join(root, "huge-annotate.png");
    const r = await runCli(["annotate", "--method", "maskrcnn", "--model", models.good, "--frames", good.frames, "--gt-mask", huge, "--out", out]);
    expectRefused(r, "ERR_STCN_IMAGE_TOO_LARGE", huge);
    expect(r.peakRssMb).toBeLessThan(300);
    expect(existsSync(out)).toBe(false);
  });

  it("a JPEG frame whose header declares 30000x30000: refused by name, peak RSS < 300 MB", async () => {
    const dir = tempDir();
    const c = await clip(dir);
    writeFileSync(join(c.frames, "00001.jpg"), await jpegWithHeaderSize(30000, 30000));
    const out = join(dir, "out");
    const r = await segment(c.frames, c.mask, out);
    expectRefused(r, "ERR_STCN_IMAGE_TOO_LARGE", "00001.jpg");
    expect(r.peakRssMb).toBeLessThan(300);
    expect(existsSync(out)).toBe(false);
  });

  it("video frames: the stream's frame size against the limit (STCN_MAX_IMAGE_PIXELS) before decoding", async () => {
    const dir = tempDir();
    const out = join(dir, "out");
    const video = dataPath("clips", "video", "example.mp4");
    const r = await runCli(["segment", "--model", models.good, "--video", video, "--mask", good.mask, "--out", out, "--no-progress"], {
      env: { STCN_MAX_IMAGE_PIXELS: "1000" },
    });
    expectRefused(r, "ERR_STCN_IMAGE_TOO_LARGE", "example.mp4");
    expect(filesUnder(dir)).toEqual([]);
  });

  it("boxes-to-davis --size past the limit: a coded error, not a RangeError", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "annotations.json"), JSON.stringify({ v: [{ name: "v/0001.jpg", labels: [] }] }));
    const r = await runCli(["boxes-to-davis", "--annotations", join(dir, "annotations.json"), "--out", join(dir, "out"), "--size", "200000x200000"]);
    expectRefused(r, "ERR_STCN_IMAGE_TOO_LARGE", "200000x200000");
    expect(filesUnder(dir)).toEqual(["annotations.json"]);
  });

  it("segment --size past the limit: ERR_STCN_ARGUMENT", async () => {
    const out = join(root, "size-out");
    const r = await segment(good.frames, good.mask, out, "--size", "100000");
    expectRefused(r, "ERR_STCN_ARGUMENT", "size");
    expect(existsSync(out)).toBe(false);
  });
});

describe("broken and wrong files", () => {
  for (const kind of ["truncated", "empty", "garbage"] as const) {
    it(`a ${kind} PNG mask`, async () => {
      const dir = tempDir();
      const bad = join(dir, `${kind}.png`);
      writeFileSync(bad, broken(mask())[kind]);
      const r = await segment(good.frames, bad, join(dir, "out"));
      expectRefused(r, "ERR_STCN_INPUT", bad);
      expect(filesUnder(dir)).toEqual([`${kind}.png`]);
    });

    it(`a ${kind} JPEG frame (frame 2 of 3): named, and the frames written before it are removed`, async () => {
      const dir = tempDir();
      const c = await clip(dir);
      const bad = join(c.frames, "00002.jpg");
      writeFileSync(bad, broken(await jpegFrame(2))[kind]);
      const out = join(dir, "out");
      const r = await segment(c.frames, c.mask, out);
      expectRefused(r, "ERR_STCN_INPUT", bad);
      expect(existsSync(out)).toBe(false);
    });
  }

  it("a 16-bit greyscale PNG where a label map is expected", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "m16.png"), wrongMasks().grey16);
    const r = await segment(good.frames, join(dir, "m16.png"), join(dir, "out"));
    expectRefused(r, "ERR_STCN_INPUT", "m16.png");
    expect(filesUnder(dir)).toEqual(["m16.png"]);
  });

  it("an RGB PNG where a palette mask is expected", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "rgb.png"), wrongMasks().rgb);
    const r = await segment(good.frames, join(dir, "rgb.png"), join(dir, "out"));
    expectRefused(r, "ERR_STCN_INPUT", "rgb.png");
    expect(filesUnder(dir)).toEqual(["rgb.png"]);
  });

  it("mixed frame sizes: the odd frame is named; no frames are left", async () => {
    const dir = tempDir();
    const c = await clip(dir);
    writeFileSync(join(c.frames, "00002.jpg"), await jpegFrame(2, W + 16, H));
    const out = join(dir, "out");
    const r = await segment(c.frames, c.mask, out);
    expectRefused(r, "ERR_STCN_INPUT", "00002.jpg");
    expect(existsSync(out)).toBe(false);
  });

  it("a folder where a file is expected (--mask, crf --out)", async () => {
    const dir = tempDir();
    mkdirSync(join(dir, "a-folder"));
    const r = await segment(good.frames, join(dir, "a-folder"), join(dir, "out"));
    expectRefused(r, "ERR_STCN_INPUT", "a-folder");
    const c = await runCli(["crf", "--image", join(good.frames, "00000.jpg"), "--mask", good.mask, "--out", join(dir, "a-folder")]);
    expectRefused(c, "ERR_STCN_IO", "a-folder", "EISDIR");
    expect(filesUnder(dir)).toEqual([]);
  });

  it("a garbage .pt", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "garbage.pt"), broken(readFileSync(models.good)).garbage);
    const r = await runCli(["segment", "--model", join(dir, "garbage.pt"), "--frames", good.frames, "--mask", good.mask, "--out", join(dir, "out"), "--no-progress"]);
    expectRefused(r, "ERR_STCN_MODEL_LOAD", "garbage.pt");
    expect(filesUnder(dir)).toEqual(["garbage.pt"]);
  });

  it("paths with spaces and non-ASCII characters work", async () => {
    const dir = join(tempDir(), "vidéo à côté 帧 1");
    const c = await clip(dir);
    const out = join(dir, "sortie ü");
    const r = await segment(c.frames, c.mask, out);
    expect(r.status, r.stderr).toBe(0);
    expect(filesUnder(out)).toEqual(["00000.png", "00001.png", "00002.png"]);
  });
});

describe("outputs", () => {
  it("segment into a --out holding other files: ERR_STCN_OUTPUT_NOT_EMPTY, untouched; --overwrite writes", async () => {
    const dir = tempDir();
    const out = join(dir, "out");
    mkdirSync(out);
    writeFileSync(join(out, "notes.txt"), "mine");
    const r = await segment(good.frames, good.mask, out);
    expectRefused(r, "ERR_STCN_OUTPUT_NOT_EMPTY", out);
    expect(filesUnder(out)).toEqual(["notes.txt"]);
    const o = await segment(good.frames, good.mask, out, "--overwrite");
    expect(o.status, o.stderr).toBe(0);
    expect(filesUnder(out)).toEqual(["00000.png", "00001.png", "00002.png", "notes.txt"]);
  });

  it("an unusable --out is reported before the model is loaded (a garbage model is never reached)", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "a-file"), "x");
    writeFileSync(join(dir, "garbage.pt"), "not a model");
    for (const out of [join(dir, "a-file"), join(dir, "a-file", "sub")]) {
      const r = await runCli(["segment", "--model", join(dir, "garbage.pt"), "--frames", good.frames, "--mask", good.mask, "--out", out, "--no-progress"]);
      expectRefused(r, "ERR_STCN_IO", "a-file");
    }
    expect(filesUnder(dir)).toEqual(["a-file", "garbage.pt"]);
  });

  it("an --out the user may not write (EACCES): ERR_STCN_IO with the code and path, before the model is loaded", async () => {
    // As root (permissions do not apply), the CLI runs as user nobody; otherwise as ourselves.
    const asNobody = process.getuid?.() === 0;
    const dir = tempDir();
    const c = await clip(join(dir, "clip"));
    writeFileSync(join(dir, "garbage.pt"), "not a model");
    const locked = join(dir, "locked");
    mkdirSync(locked);
    chmodSync(locked, 0o555);
    for (const p of [dir, join(dir, "clip"), c.frames]) chmodSync(p, 0o755);
    for (const f of [...readdirSync(c.frames).map((n) => join(c.frames, n)), c.mask, join(dir, "garbage.pt")]) chmodSync(f, 0o644);
    const args = ["segment", "--model", join(dir, "garbage.pt"), "--frames", c.frames, "--mask", c.mask, "--out", join(locked, "out"), "--no-progress"];
    const r = await runCli(args, asNobody ? { uid: 65534, gid: 65534 } : {});
    expectRefused(r, "ERR_STCN_IO", "EACCES", locked);
    expect(filesUnder(locked)).toEqual([]);
  });

  it("boxes-to-davis: a frame that fails to decode midway is named and nothing is left behind", async () => {
    const dir = tempDir();
    const frames = join(dir, "frames");
    for (const v of ["v1", "v2"]) {
      mkdirSync(join(frames, v), { recursive: true });
      for (const n of ["0001", "0002"]) writeFileSync(join(frames, v, `${n}.jpg`), await jpegFrame(Number(n)));
    }
    // The header reads (so sizing passes); the scan data is cut.
    const whole = await jpegFrame(2);
    writeFileSync(join(frames, "v2", "0002.jpg"), whole.subarray(0, Math.floor(whole.length * 0.4)));
    const records = (v: string) => ["0001", "0002"].map((n) => ({ name: `${v}/${n}.jpg`, labels: [{ box2d: { x1: 1, x2: 20, y1: 1, y2: 20 } }] }));
    writeFileSync(join(dir, "annotations.json"), JSON.stringify({ v1: records("v1"), v2: records("v2") }));
    const out = join(dir, "out");
    const r = await runCli(["boxes-to-davis", "--annotations", join(dir, "annotations.json"), "--frames", frames, "--out", out]);
    expectRefused(r, "ERR_STCN_INPUT", join("v2", "0002.jpg"));
    expect(existsSync(out)).toBe(false);
  });

  it("export: a failing exporter prints one line; --verbose shows the script's stderr", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "bad.pth"), "not a checkpoint");
    const r = await runCli(["export", "stcn", "--checkpoint", join(dir, "bad.pth"), "--out", join(dir, "x.pt")]);
    expect(r.status).toBe(1);
    expect(errorLines(r), r.stderr).toHaveLength(1);
    expect(errorLines(r)[0]).toMatch(/^stcn: export stcn: .+ \[ERR_STCN_(INPUT|INTERNAL)\]$/);
    // Without --verbose the script's own stderr is not echoed: only the one line carries its last error.
    expect(r.stderr).not.toMatch(/^ {2}export_stcn: error/m);
    const v = await runCli(["export", "stcn", "--checkpoint", join(dir, "bad.pth"), "--out", join(dir, "x.pt"), "--verbose"]);
    expect(v.status).toBe(1);
    expect(errorLines(v), v.stderr).toHaveLength(1);
    // --verbose echoes the script's stderr (its error report, a traceback when it has one) above the line.
    expect(v.stderr).toMatch(/^ {2}export_stcn: error: cannot read checkpoint/m);
    expect(filesUnder(dir)).toEqual(["bad.pth"]);
  });
});

describe("the STCN model contract, probed at load", () => {
  for (const [name, rule] of [
    ["wrongValueChannels", "encode_value"],
    ["badKeyChannels", "k16"],
    ["nan", "NaN"],
  ] as const) {
    it(`${name}: ERR_STCN_MODEL_CONTRACT before any frame is written`, async () => {
      const dir = tempDir();
      const out = join(dir, "out");
      const r = await runCli(["segment", "--model", models[name], "--frames", good.frames, "--mask", good.mask, "--out", out, "--no-progress"]);
      expectRefused(r, "ERR_STCN_MODEL_CONTRACT", rule);
      expect(existsSync(out)).toBe(false);
    });
  }

  it("NaN at run time (past the probe) is an error, not a label map; no frames are left", async () => {
    const dir = tempDir();
    const out = join(dir, "out");
    // Working size 640x480: this model returns NaN above 64x64 only.
    const r = await runCli(["segment", "--model", models.nanAtRuntime, "--frames", good.frames, "--mask", good.mask, "--out", out, "--no-progress"]);
    expectRefused(r, "ERR_STCN_MODEL_CONTRACT", "NaN");
    expect(existsSync(out)).toBe(false);
  });
});

describe("--trusted-models", () => {
  it("refuses a model outside the folder, a symbolic link leading out of it, and loads one inside", async () => {
    const dir = tempDir();
    const trusted = join(dir, "trusted");
    mkdirSync(trusted);
    writeFileSync(join(trusted, "good.pt"), readFileSync(models.good));
    symlinkSync(models.good, join(trusted, "link.pt"));
    const run = (model: string, out: string) =>
      runCli(["segment", "--trusted-models", trusted, "--model", model, "--frames", good.frames, "--mask", good.mask, "--out", join(dir, out), "--no-progress", "--size", "0"]);
    expectRefused(await run(models.good, "o1"), "ERR_STCN_UNTRUSTED_MODEL", models.good, trusted);
    expectRefused(await run(join(trusted, "link.pt"), "o2"), "ERR_STCN_UNTRUSTED_MODEL", "link.pt");
    expectRefused(await run(join(trusted, "..", "..", relative(join(dir, ".."), models.good)), "o3"), "ERR_STCN_UNTRUSTED_MODEL");
    const ok = await run(join(trusted, "good.pt"), "o4");
    expect(ok.status, ok.stderr).toBe(0);
    expect(statSync(join(dir, "o4", "00002.png")).isFile()).toBe(true);
    expect(filesUnder(dir).filter((f) => f.startsWith("o1") || f.startsWith("o2") || f.startsWith("o3"))).toEqual([]);
  });

  it("library: the trustedModels load option and setTrustedModelDir (process-wide) refuse the same paths", async () => {
    const dir = tempDir();
    const trusted = join(dir, "trusted");
    mkdirSync(trusted);
    writeFileSync(join(trusted, "good.pt"), readFileSync(models.good));
    await expect(Stcn.load(models.good, { trustedModels: trusted })).rejects.toMatchObject({ code: "ERR_STCN_UNTRUSTED_MODEL" });
    await expect(loadModule(models.good, { trustedModels: trusted })).rejects.toMatchObject({ code: "ERR_STCN_UNTRUSTED_MODEL" });
    const inside = await Stcn.load(join(trusted, "good.pt"), { trustedModels: trusted });
    inside.dispose();
    setTrustedModelDir(trusted);
    try {
      expect(getTrustedModelDir()).toBe(realpathSync(trusted));
      await expect(Stcn.load(models.good)).rejects.toMatchObject({ code: "ERR_STCN_UNTRUSTED_MODEL" });
      // The load option takes precedence over the process-wide folder.
      const other = await Stcn.load(models.good, { trustedModels: join(models.good, "..") });
      other.dispose();
    } finally {
      setTrustedModelDir(undefined);
    }
    expect(() => setTrustedModelDir(join(dir, "missing"))).toThrow(expect.objectContaining({ code: "ERR_STCN_ARGUMENT" }));
  });
});
