/**
 * `stcn demo` end to end, as a user runs it after set-up: the built CLI, the bundled demo model
 * (models/demo/stcn-demo.pt), a generated clip, the native STCN pipeline and the DAVIS evaluator.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import sharp from "sharp";
import { beforeAll, describe, expect, it } from "vitest";
import { readLabelPng } from "../dist/io/png.js";
import { repoRoot, tempDir } from "./helpers.js";

const cli = join(repoRoot, "dist", "cli.js");
const SUMMARY = /^demo: J&F (0\.\d{3}|1\.000) J (0\.\d{3}|1\.000) F (0\.\d{3}|1\.000) FPS \d+\.\d$/;

function run(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", timeout: 300_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("stcn demo (generated clip)", () => {
  let out: string;
  let stdout: string;
  beforeAll(() => {
    out = join(tempDir("stcn-demo-cli-"), "stcn-demo");
    stdout = execFileSync(process.execPath, [cli, "demo", "--out", out], { encoding: "utf8", timeout: 300_000 });
  });

  it("ends with the summary line, equal to the CSV it wrote", () => {
    const lines = stdout.trim().split("\n");
    const last = lines[lines.length - 1] as string;
    expect(last).toMatch(SUMMARY);
    const csv = readFileSync(join(out, "global_results-demo.csv"), "utf8").trim().split("\n");
    const row = (csv[1] as string).split(",");
    const [jf, j, , , f] = row;
    expect(last.startsWith(`demo: J&F ${jf} J ${j} F ${f} FPS`)).toBe(true);
    // The J&F table is printed too.
    expect(stdout).toContain("J&F-Mean");
    expect(stdout).toMatch(/synth-002027_1\s+\d\.\d{3}\s+\d\.\d{3}/);
  });

  it("writes frames, ground truth, masks and overlays for every frame, and a contact sheet", async () => {
    const seq = "synth-002027";
    const want = Array.from({ length: 30 }, (_, i) => String(i).padStart(5, "0"));
    const stems = (dir: string) => readdirSync(join(out, dir, seq)).map((n) => n.split(".")[0]).sort();
    expect(stems("frames")).toEqual(want);
    expect(stems("masks-gt")).toEqual(want);
    expect(stems("masks")).toEqual(want);
    expect(stems("overlays")).toEqual(want);
    // Results are palette label maps of the frame size with the ground truth's objects.
    const gt = await readLabelPng(join(out, "masks-gt", seq, "00015.png"));
    const res = await readLabelPng(join(out, "masks", seq, "00015.png"));
    expect([res.width, res.height]).toEqual([gt.width, gt.height]);
    expect(Math.max(...res.data)).toBeLessThanOrEqual(Math.max(...gt.data));
    expect(Math.max(...res.data)).toBeGreaterThan(0);
    const meta = await sharp(join(out, "contact-sheet.png")).metadata();
    expect(meta.format).toBe("png");
    // 6 rows (frames 0, 6, 12, 17, 23, 29; label column of "frame 12" at 2x the 5x7 font + 4 px
    // margins) x 3 columns (GT, ours, overlay) of 160x128 frames with 4 px gaps, under a header row.
    const labelW = "frame 12".length * 12 - 2 + 8;
    expect([meta.width, meta.height]).toEqual([labelW + 3 * (160 + 4) + 4, 14 + 8 + 6 * (128 + 4) + 4]);
    const overlay = await sharp(join(out, "overlays", seq, "00015.jpg")).metadata();
    expect([overlay.width, overlay.height]).toEqual([160, 128]);
  });

  it("runs the demo model on a clip of your own (--frames, --mask): masks, overlays, no J&F", () => {
    const seq = "synth-002027";
    const own = join(tempDir("stcn-demo-own-"), "out");
    const r = run(["demo", "--frames", join(out, "frames", seq), "--mask", join(out, "masks-gt", seq, "00000.png"), "--out", own]);
    // stderr holds only progress lines ("demo: ..."), no warning or error.
    expect(r.stderr.trim().split("\n").every((l) => l.startsWith("demo: ")), r.stderr).toBe(true);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("J&F is not computed");
    expect(r.stdout.trim().split("\n").pop()).toMatch(/^demo: J&F n\/a \(no ground truth for your clip\) FPS \d+\.\d$/);
    expect(readdirSync(join(own, "masks", "clip"))).toHaveLength(30);
    expect(readdirSync(join(own, "overlays", "clip"))).toHaveLength(30);
    expect(existsSync(join(own, "contact-sheet.png"))).toBe(true);
    // Same model, same frames, same first mask: the same masks as the generated-clip run.
    for (const stem of ["00001", "00029"]) {
      expect(readFileSync(join(own, "masks", "clip", `${stem}.png`)).equals(readFileSync(join(out, "masks", seq, `${stem}.png`)))).toBe(true);
    }
  });
});

describe("stcn demo errors", () => {
  it("--frames without --mask: one line, exit 2", () => {
    const r = run(["demo", "--frames", "/nonexistent", "--out", tempDir()]);
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe(
      "stcn: a clip of your own needs --frames DIR or --video FILE, and --mask FIRST.png [ERR_STCN_ARGUMENT]; see: stcn demo --help",
    );
  });

  it("a missing model names the file", () => {
    const r = run(["demo", "--model", "/nonexistent/m.pt", "--out", tempDir()]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("demo model not found: /nonexistent/m.pt");
    expect(r.stderr).toContain("[ERR_STCN_MODEL_NOT_FOUND]");
  });

  it("bad seeds are refused", () => {
    const r = run(["demo", "--seeds", "9-3", "--out", tempDir()]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("seed range 9-3 is empty [ERR_STCN_ARGUMENT]");
  });
});
