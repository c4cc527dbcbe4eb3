import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readLabelPng } from "../dist/index.js";
import { reproduceDavis } from "../dist/reproduce.js";
import { runPython, tempDir, dataPath } from "./helpers.js";

describe("stcn reproduce (library)", () => {
  it("annotates, propagates and scores every method on a DAVIS root, writing results and the table", async () => {
    const dir = tempDir("stcn-reproduce-");
    runPython("export_stcn.py", ["--random-init", "--seed", "3", "--out", join(dir, "stcn.pt")]);
    runPython("export_dino.py", ["--arch", "vit_small", "--random-init", "--seed", "3", "--out", join(dir, "dino.pt")]);
    // Random-weight Mask R-CNN at a small internal size (random class scores are ~0.6-0.8 here, so
    // detections exist; the detector test checks that separately).
    runPython("export_maskrcnn.py", ["--random-init", "--seed", "3", "--min-size", "320", "--max-size", "600", "--detections-per-img", "30", "--out", join(dir, "maskrcnn.pt")]);
    const davisRoot = dataPath("davis-judo");
    const out = join(dir, "out");
    const result = await reproduceDavis({
      davisRoot,
      stcn: join(dir, "stcn.pt"),
      dino: join(dir, "dino.pt"),
      maskrcnn: join(dir, "maskrcnn.pt"),
      out,
      size: 128,
    });
    expect(result.rows.map((r) => r.method)).toEqual(["gt", "maskrcnn", "lost-crf"]);
    const frames = readdirSync(join(davisRoot, "JPEGImages/480p/judo")).length;
    for (const row of result.rows) {
      expect(row.frames).toBe(frames);
      expect(readdirSync(join(out, row.method, "judo")).filter((f) => f.endsWith(".png"))).toHaveLength(frames);
      expect(existsSync(join(out, row.method, "global_results-val.csv"))).toBe(true);
      for (const v of Object.values(row.global)) expect(Number.isFinite(v)).toBe(true);
      expect(row.global["J&F-Mean"]).toBeCloseTo((row.global["J-Mean"] + row.global["F-Mean"]) / 2, 12);
      expect(row.fps).toBeGreaterThan(0);
    }
    const gtRow = result.rows[0]!;
    expect(gtRow.annotateMs).toBe(0);
    for (const method of ["maskrcnn", "lost-crf"]) {
      const row = result.rows.find((r) => r.method === method)!;
      expect(row.annotateMs).toBeGreaterThan(0);
      expect(existsSync(join(out, method, "first-frames", "judo.png"))).toBe(true);
    }
    // The detector's first frame keeps the GT object ids (matched by box distance).
    const first = await readLabelPng(join(out, "maskrcnn", "first-frames", "judo.png"));
    const gt = await readLabelPng(join(davisRoot, "Annotations/480p/judo/00000.png"));
    const ids = (m: Uint8Array) => [...new Set(m)].filter((v) => v !== 0).sort();
    expect(ids(first.data).length).toBeGreaterThan(0);
    for (const id of ids(first.data)) expect(ids(gt.data)).toContain(id);
    const table = readFileSync(join(out, "table.md"), "utf8");
    expect(table).toContain("| ground truth |");
    expect(table).toContain("| LOST + CRF |");
    expect(table).toContain("| Mask R-CNN |");
  });

  it("refuses a method whose model is missing, naming the flag", async () => {
    await expect(
      reproduceDavis({ davisRoot: dataPath("davis-judo"), stcn: "x.pt", methods: ["gt", "maskrcnn"], out: tempDir() }),
    ).rejects.toMatchObject({ code: "ERR_STCN_ARGUMENT", message: expect.stringContaining("--maskrcnn") });
  });
});
