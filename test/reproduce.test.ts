import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { reproduceDavis } from "../dist/reproduce.js";
import { dataRoot, runPython, tempDir } from "./helpers.js";

describe("stcn reproduce (library)", () => {
  it("annotates, propagates and scores every method on a DAVIS root, writing results and the table", async () => {
    const dir = tempDir("stcn-reproduce-");
    runPython("export_stcn.py", ["--random-init", "--seed", "3", "--out", join(dir, "stcn.pt")]);
    runPython("export_dino.py", ["--arch", "vit_small", "--random-init", "--seed", "3", "--out", join(dir, "dino.pt")]);
    const davisRoot = join(dataRoot, "davis-judo");
    const out = join(dir, "out");
    const result = await reproduceDavis({
      davisRoot,
      stcn: join(dir, "stcn.pt"),
      dino: join(dir, "dino.pt"),
      out,
      size: 128,
    });
    expect(result.rows.map((r) => r.method)).toEqual(["gt", "lost-crf"]);
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
    expect(result.rows[1]!.annotateMs).toBeGreaterThan(0);
    expect(existsSync(join(out, "lost-crf", "first-frames", "judo.png"))).toBe(true);
    const table = readFileSync(join(out, "table.md"), "utf8");
    expect(table).toContain("| ground truth |");
    expect(table).toContain("| LOST + CRF |");
  });

  it("refuses a method whose model is missing, naming the flag", async () => {
    await expect(
      reproduceDavis({ davisRoot: join(dataRoot, "davis-judo"), stcn: "x.pt", methods: ["gt", "maskrcnn"], out: tempDir() }),
    ).rejects.toMatchObject({ code: "ERR_STCN_ARGUMENT", message: expect.stringContaining("--maskrcnn") });
  });
});
