/**
 * What the viewer shows, without a browser: the layouts of RESULTS (results folder, one sequence,
 * `stcn reproduce` output with its report), scores from the evaluation CSVs, the study's tables
 * beside ours, and the file resolution that keeps the server inside its roots.
 */
import { cpSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { scanResults } from "../dist/view/scan.js";
import { resolveServedFile } from "../dist/view/server.js";
import { dataRoot, tempDir } from "./helpers.js";

const mini = join(dataRoot, "davis-mini");
const csvPath = join(mini, "expected", "dilate3", "per-sequence_results-val.csv");

function csvRows(): Array<{ sequence: string; object: number; j: number; f: number }> {
  return readFileSync(csvPath, "utf8")
    .trim()
    .split("\n")
    .slice(1)
    .map((line) => {
      const [name, j, f] = line.split(",") as [string, string, string];
      const m = /^(.*)_(\d+)$/.exec(name) as RegExpExecArray;
      return { sequence: m[1] as string, object: Number(m[2]), j: Number(j), f: Number(f) };
    });
}

let dir: string;
beforeAll(() => {
  dir = tempDir("stcn-view-scan-");
});

describe("scanResults", () => {
  it("a results folder with the evaluator's CSV: sequences, frames, objects and scores", async () => {
    const results = join(dir, "plain");
    cpSync(join(mini, "results", "dilate3"), results, { recursive: true });
    cpSync(csvPath, join(results, "per-sequence_results-val.csv"));
    const index = await scanResults({ results });
    expect(index.sequences.map((s) => [s.key, s.frames.length, s.width, s.height])).toEqual([
      ["bike-packing", 69, 910, 480],
      ["car-shadow", 40, 854, 480],
      ["judo", 34, 854, 480],
      ["lab-coat", 47, 854, 480],
    ]);
    expect(index.sequences.find((s) => s.key === "lab-coat")?.objects).toEqual([3, 4, 5]);
    expect(index.sequences[0]?.frames[0]).toEqual({ id: "00000", mask: { root: "results", path: "bike-packing/00000.png" } });
    expect(index.scores.map((s) => ({ sequence: s.sequence, object: s.object, j: s.j, f: s.f }))).toEqual(csvRows());
    expect(index.scores.every((s) => s.perFrame === undefined)).toBe(true);
  });

  it("with a DAVIS root: the evaluation's J and F, per-frame J, and the frames", async () => {
    const index = await scanResults({ results: join(mini, "results", "dilate3"), davis: join(mini, "DAVIS") });
    for (const row of csvRows()) {
      const s = index.scores.find((x) => x.sequence === row.sequence && x.object === row.object);
      expect(s?.j.toFixed(3), `${row.sequence}_${row.object}`).toBe(row.j.toFixed(3));
      expect(s?.f.toFixed(3)).toBe(row.f.toFixed(3));
      expect(s?.perFrame?.j.length).toBe((index.sequences.find((q) => q.key === row.sequence)?.frames.length ?? 0) - 2);
    }
    expect(index.sequences[2]?.frames[3]?.image).toEqual({ root: "davis", path: "JPEGImages/480p/judo/00003.jpg" });
    expect(index.scoreSource).toMatch(/set val/);
  });

  it("stcn reproduce output: per table/method sequences, each method's CSV, the study's tables beside ours", async () => {
    const out = join(dir, "reproduce");
    for (const [method, csv] of [["gt", "judo_1,0.900,0.800\njudo_2,0.700,0.600"], ["maskrcnn", "judo_1,0.500,0.300\njudo_2,0.100,0.200"]] as const) {
      const m = join(out, "table-2", method);
      mkdirSync(m, { recursive: true });
      cpSync(join(mini, "results", "dilate3", "judo"), join(m, "judo"), { recursive: true });
      writeFileSync(join(m, "per-sequence_results-val.csv"), `Sequence,J-Mean,F-Mean\n${csv}\n`);
    }
    const global = { "J&F-Mean": 0.75, "J-Mean": 0.8, "J-Recall": 1, "J-Decay": 0, "F-Mean": 0.7, "F-Recall": 1, "F-Decay": 0 };
    writeFileSync(
      join(out, "report.json"),
      JSON.stringify({
        format: "stcn-study-report/1",
        tables: [
          {
            table: 2,
            title: "Table 2",
            rows: [
              { method: "gt", title: "ground truth", status: "done", global, published: { jf: 85.3, j: 82.0, f: 88.6, fps: 16.9 } },
              { method: "pointrend", title: "PointRend", status: "skipped", published: { jf: 71.1, j: 68.6, f: 73.6, fps: 14.9 } },
            ],
          },
        ],
      }),
    );
    const index = await scanResults({ results: out });
    expect(index.sequences.map((s) => [s.key, s.group, s.name])).toEqual([
      ["table-2/gt/judo", "table-2/gt", "judo"],
      ["table-2/maskrcnn/judo", "table-2/maskrcnn", "judo"],
    ]);
    expect(index.scores.map((s) => [s.key, s.object, s.jf.toFixed(6)])).toEqual([
      ["table-2/gt/judo", 1, "0.850000"],
      ["table-2/gt/judo", 2, "0.650000"],
      ["table-2/maskrcnn/judo", 1, "0.400000"],
      ["table-2/maskrcnn/judo", 2, "0.150000"],
    ]);
    expect(index.study).toEqual([
      {
        title: "Table 2",
        rows: [
          { method: "ground truth", status: "done", ours: { jf: 75, j: 80, f: 70 }, study: { jf: 85.3, j: 82.0, f: 88.6 } },
          { method: "PointRend", status: "skipped", study: { jf: 71.1, j: 68.6, f: 73.6 } },
        ],
      },
    ]);
  });

  it("one sequence folder, and a folder without results", async () => {
    const index = await scanResults({ results: join(mini, "results", "dilate3", "judo") });
    expect(index.sequences.map((s) => [s.key, s.frames.length])).toEqual([["judo", 34]]);
    await expect(scanResults({ results: join(mini, "DAVIS", "ImageSets") })).rejects.toMatchObject({ code: "ERR_STCN_INPUT" });
    await expect(scanResults({ results: join(dir, "missing") })).rejects.toMatchObject({ code: "ERR_STCN_INPUT" });
  });
});

describe("resolveServedFile", () => {
  it("serves regular files inside the root only", async () => {
    const root = join(dir, "root");
    mkdirSync(join(root, "seq"), { recursive: true });
    writeFileSync(join(root, "seq", "a.png"), "x");
    symlinkSync("/etc/passwd", join(root, "seq", "out.png"));
    symlinkSync(join(root, "seq", "a.png"), join(root, "seq", "in.png"));
    symlinkSync("/etc", join(root, "etc"));
    expect(await resolveServedFile(root, ["seq", "a.png"])).toBe(join(root, "seq", "a.png"));
    expect(await resolveServedFile(root, ["seq", "in.png"])).toBe(join(root, "seq", "a.png"));  // a link inside is fine
    for (const segments of [
      ["..", "..", "etc", "passwd"],
      ["%2e%2e", "%2E%2E", "etc", "passwd"],
      ["seq", "..", "..", "x"],
      ["%2e%2e%2f%2e%2e%2fetc%2fpasswd"],
      ["seq%2fa.png"],
      ["seq", "out.png"],
      ["etc", "passwd"],
      ["seq"],
      ["seq", "a.png%00"],
      ["seq", "%E0%A4%A"],
      ["", "seq", "a.png"],
      ["."],
      [],
    ]) {
      expect(await resolveServedFile(root, segments), segments.join("/")).toBeUndefined();
    }
  });
});
