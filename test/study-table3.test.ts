/**
 * Table 3 end to end through `stcn reproduce`: a Something-Else annotations.json written from real
 * frames (boxes of their masks), random-weight STCN / Mask R-CNN / DINO exports, PointRend not given
 * (its method must be skipped with one line, the others run). Checks the first frames (GT = what
 * boxes-to-davis writes for frame 1; a detector's = the boxes of the matched detections, filled the
 * same way), the table against `stcn evaluate` on the written results, the table's rows and columns,
 * the report, and the refusals of bad --videos lists.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { boxMask, loadModule, pilNearestResize, readLabelPng, readRgb } from "../dist/index.js";
import { candidateCount, detectorAnnotator, matchBoxes, STUDY_CANDIDATE_SCORE } from "../dist/annotators/detector.js";
import { repoRoot, runPython, tempDir } from "./helpers.js";
import { exportStcn, writeSomethingFixture, type SomethingFixture } from "./study-fixtures.js";

const cli = join(repoRoot, "dist", "cli.js");
const run = (args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", maxBuffer: 64 << 20 });

describe("stcn reproduce --table 3", () => {
  let dir: string;
  let fx: SomethingFixture;
  let out: string;
  let stdout: string;
  let stderr: string;
  const models = () => ({ stcn: join(dir, "stcn.pt"), maskrcnn: join(dir, "maskrcnn.pt"), dino: join(dir, "dino.pt") });

  beforeAll(async () => {
    dir = tempDir("stcn-table3-");
    fx = await writeSomethingFixture(dir, ["judo", "bike"]);
    exportStcn(models().stcn);
    runPython("export_dino.py", ["--arch", "vit_small", "--random-init", "--seed", "3", "--out", models().dino]);
    // Small internal size keeps the random detector fast; random class scores give detections.
    runPython("export_maskrcnn.py", ["--random-init", "--seed", "3", "--min-size", "240", "--max-size", "427", "--detections-per-img", "30", "--out", models().maskrcnn]);
    out = join(dir, "out");
    const r = run([
      "reproduce",
      "--table", "3",
      "--something-else", fx.annotations,
      "--something-frames", fx.frames,
      "--stcn", models().stcn,
      "--maskrcnn", models().maskrcnn,
      "--dino", models().dino,
      "--size", "128",
      "--out", out,
      "--json",
    ]);
    stdout = r.stdout;
    stderr = r.stderr;
    expect(r.status, r.stderr).toBe(0);
  }, 900_000);

  it("skips only the method whose model is missing, with one line", () => {
    const skipLines = stderr.split("\n").filter((l) => l.includes("skipped ("));
    expect(skipLines).toEqual(["table 3 pointrend: skipped (no pointrend model given (--pointrend))"]);
    const summary = (JSON.parse(stdout) as { result: { complete: boolean; units: Array<{ method: string; sequence: string; status: string; frames: number }> } }).result;
    expect(summary.complete).toBe(true);
    expect(summary.units.map((u) => `${u.method}/${u.sequence}/${u.status}`)).toEqual([
      "gt/judo/computed",
      "gt/bike/computed",
      "maskrcnn/judo/computed",
      "maskrcnn/bike/computed",
      "lost/judo/computed",
      "lost/bike/computed",
    ]);
    expect(summary.units.map((u) => u.frames)).toEqual([16, 4, 16, 4, 16, 4]);
    expect(existsSync(join(out, "table-3", "pointrend"))).toBe(false);
  });

  it("the GT first frame is the box mask boxes-to-davis writes for frame 1", async () => {
    const separate = join(dir, "boxes-root");
    const r = run(["boxes-to-davis", "--annotations", fx.annotations, "--frames", fx.frames, "--out", separate]);
    expect(r.status, r.stderr).toBe(0);
    for (const video of ["judo", "bike"]) {
      const first = await readLabelPng(join(out, "table-3", "gt", "first-frames", `${video}.png`));
      const written = await readLabelPng(join(separate, "Annotations", "480p", video, "00000.png"));
      expect([first.width, first.height]).toEqual([854, 480]);
      expect(Buffer.from(first.data).equals(Buffer.from(written.data))).toBe(true);
      // ... and that is the frame's boxes filled at 427x240 and resized to 480p.
      const labels = (fx.boxes[video] as Array<Array<{ x1: number; x2: number; y1: number; y2: number }>>)[0]!.map((box2d) => ({ box2d }));
      const expected = pilNearestResize(boxMask(labels, fx.width, fx.height), fx.width, fx.height, 854, 480);
      expect(Buffer.from(first.data).equals(Buffer.from(expected))).toBe(true);
      expect(new Set(first.data)).toEqual(new Set([0, 1, 2]));
    }
  });

  it("a detector's first frame is the box of the detection matched to each GT box", async () => {
    const module = await loadModule(models().maskrcnn);
    try {
      const annotator = detectorAnnotator(module, { method: "maskrcnn" });
      for (const video of ["judo", "bike"]) {
        const det = await annotator.detect(await readRgb(join(fx.frames, video, "0001.jpg")));
        expect(det.count).toBeGreaterThan(0);
        const gt = (fx.boxes[video] as Array<Array<{ x1: number; x2: number; y1: number; y2: number }>>)[0]!;
        const matches = matchBoxes(gt.map((b) => [b.x1, b.y1, b.x2, b.y2]), det.boxes, candidateCount(det.scores, STUDY_CANDIDATE_SCORE.maskrcnn));
        const labels = matches.map((j) => {
          const b = det.boxes.subarray(j! * 4, j! * 4 + 4);
          return { box2d: { x1: b[0]!, y1: b[1]!, x2: b[2]!, y2: b[3]! } };
        });
        const expected = pilNearestResize(boxMask(labels, fx.width, fx.height), fx.width, fx.height, 854, 480);
        const first = await readLabelPng(join(out, "table-3", "maskrcnn", "first-frames", `${video}.png`));
        expect(Buffer.from(first.data).equals(Buffer.from(expected))).toBe(true);
        // Rectangles, not instance masks: every object's pixels fill their bounding rectangle
        // (unless a later box covers part of it).
        expect(first.data.some((v) => v !== 0)).toBe(true);
      }
    } finally {
      module.dispose();
    }
    // LOST: one box, object 1.
    const lost = await readLabelPng(join(out, "table-3", "lost", "first-frames", "judo.png"));
    expect(new Set(lost.data)).toEqual(new Set([0, 1]));
  });

  it("table-3.csv: the study's rows and columns; the GT row equals stcn evaluate on the written results", () => {
    const csv = readFileSync(join(out, "table-3.csv"), "utf8").trim().split("\n");
    expect(csv[0]).toBe("method,J&F-Mean,J-Mean,F-Mean,FPS,first-frame-ms");
    expect(csv.slice(1).map((l) => l.split(",")[0])).toEqual(["gt", "maskrcnn", "pointrend", "lost"]);
    expect(csv[3]).toBe("pointrend,,,,,");
    const evalOut = join(dir, "evaluate");
    const r = run(["evaluate", "--davis", join(out, "something-root"), "--results", join(out, "table-3", "gt"), "--out", evalOut]);
    expect(r.status, r.stderr).toBe(0);
    const [header, values] = readFileSync(join(evalOut, "global_results-val.csv"), "utf8").trim().split("\n") as [string, string];
    const cols = header.split(",");
    const v = values.split(",");
    const gt = (csv[1] as string).split(",");
    expect(gt.slice(1, 4)).toEqual([v[cols.indexOf("J&F-Mean")], v[cols.indexOf("J-Mean")], v[cols.indexOf("F-Mean")]]);
    expect(Number(gt[4])).toBeGreaterThan(0); // propagation FPS
    expect(Number(gt[5])).toBe(0); // no annotation time for GT boxes
    for (const row of [csv[2], csv[4]]) expect(Number((row as string).split(",")[5])).toBeGreaterThan(0);
    // The evaluator's own CSVs are in each method folder.
    expect(existsSync(join(out, "table-3", "maskrcnn", "per-sequence_results-val.csv"))).toBe(true);
  });

  it("writes results in the DAVIS layout and a report with the study's numbers, environment and chart", () => {
    expect(readdirSync(join(out, "table-3", "gt", "judo")).filter((f) => f.endsWith(".png"))).toHaveLength(16);
    const md = readFileSync(join(out, "report.md"), "utf8");
    expect(md).toContain("| ground-truth boxes |");
    expect(md).toContain("| 41.4 |"); // the study's GT-box J&F beside ours
    expect(md).toContain("no pointrend model given");
    expect(md).toMatch(/\| `[0-9a-f]{64}` \|/); // model SHA-256
    const report = JSON.parse(readFileSync(join(out, "report.json"), "utf8")) as {
      tables: Array<{ rows: Array<{ method: string; status: string; perSequence: Array<{ sequence: string }> }> }>;
      manifest: { environment: { libtorch: string; threads: number } };
    };
    expect(report.tables[0]!.rows.map((r) => r.status)).toEqual(["done", "done", "skipped", "done"]);
    expect(report.tables[0]!.rows[0]!.perSequence.map((s) => s.sequence)).toEqual(["judo", "bike"]);
    expect(report.manifest.environment.libtorch).toMatch(/^\d+\.\d+/);
    const svg = readFileSync(join(out, "chart.svg"), "utf8");
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg).toContain("lost");
  });

  it("refuses an empty --videos list or a video the annotations lack, in one line, before any work", () => {
    for (const [videos, message] of [
      ["", "--videos is empty"],
      ["judo,nope", 'unknown video "nope"'],
    ] as const) {
      const target = join(dir, `refused-${videos.length}`);
      const r = run(["reproduce", "--something-else", fx.annotations, "--something-frames", fx.frames, "--videos", videos, "--stcn", models().stcn, "--out", target]);
      expect(r.status).toBe(2);
      const lines = r.stderr.trim().split("\n");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(message);
      expect(lines[0]).toMatch(/^stcn: .* \[ERR_STCN_ARGUMENT\]; see: stcn reproduce --help$/);
      expect(existsSync(target)).toBe(false);
    }
  });
});
