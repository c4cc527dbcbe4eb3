/**
 * Tables 1 and 2 through the library (`reproduceStudy`) on the one-sequence DAVIS root with real
 * frames: without first-frame models only `gt` runs (the three others skipped with their reasons),
 * Table 2's gt unit is copied from Table 1's identical one (not recomputed), and the tables have the
 * study's rows.
 */
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { reproduceStudy, type StudyEvent } from "../dist/index.js";
import { dataRoot, tempDir } from "./helpers.js";
import { exportStcn } from "./study-fixtures.js";

describe("reproduceStudy on DAVIS (Tables 1 and 2)", () => {
  it("runs gt in both tables, skips methods without models, writes both tables", async () => {
    const dir = tempDir("stcn-study-davis-");
    exportStcn(join(dir, "stcn.pt"));
    const out = join(dir, "out");
    const events: StudyEvent[] = [];
    const result = await reproduceStudy({ davisRoot: join(dataRoot, "davis-judo"), stcn: join(dir, "stcn.pt"), out, size: 128, onEvent: (e) => events.push(e) });
    expect(events.filter((e) => e.type === "method-skipped").map((e) => e.type === "method-skipped" && `${e.table} ${e.method}: ${e.reason}`)).toEqual([
      "2 maskrcnn: no maskrcnn model given (--maskrcnn)",
      "2 pointrend: no pointrend model given (--pointrend)",
      "2 lost-crf: no dino model given (--dino)",
    ]);
    expect(result.units.map((u) => `${u.table}/${u.method}/${u.sequence}/${u.status}`)).toEqual(["1/gt/judo/computed", "2/gt/judo/reused"]);
    expect(result.units[1]!.marker.reusedFrom).toBe(1);
    // Frame events count every propagated frame: Table 2's gt propagated nothing.
    expect(events.filter((e) => e.type === "frame")).toHaveLength(16);
    expect(readFileSync(join(out, "table-1.csv"), "utf8").trim().split("\n").map((l) => l.split(",")[0])).toEqual(["method", "gt"]);
    const t2 = readFileSync(join(out, "table-2.csv"), "utf8").trim().split("\n");
    expect(t2.map((l) => l.split(",")[0])).toEqual(["method", "gt", "maskrcnn", "pointrend", "lost-crf"]);
    expect(t2.slice(2)).toEqual(["maskrcnn,,,,,", "pointrend,,,,,", "lost-crf,,,,,"]);
    // Table 2's gt holds Table 1's results.
    const t1Rows = readFileSync(join(out, "table-1.csv"), "utf8").trim().split("\n");
    expect((t2[1] as string).split(",").slice(0, 4)).toEqual((t1Rows[1] as string).split(",").slice(0, 4));
    const frames = readdirSync(join(out, "table-1", "gt", "judo")).sort();
    expect(frames).toHaveLength(16);
    for (const f of frames) {
      expect(readFileSync(join(out, "table-2", "gt", "judo", f)).equals(readFileSync(join(out, "table-1", "gt", "judo", f))), f).toBe(true);
    }
    // The GT first frame is the dataset's first annotation.
    expect(readFileSync(join(out, "table-1", "gt", "first-frames", "judo.png")).equals(readFileSync(join(dataRoot, "davis-judo", "Annotations", "480p", "judo", "00000.png")))).toBe(true);
    const t1 = result.report.tables[0]!;
    expect(t1.rows[0]!.status).toBe("done");
    expect(t1.rows[0]!.published?.jf).toBe(85.3);
    expect(result.report.tables[1]!.rows.map((r) => r.status)).toEqual(["done", "skipped", "skipped", "skipped"]);
    // A rerun finds both done; --force on Table 2 alone recomputes its gt (Table 1's, older than this run, is not copied).
    const again = await reproduceStudy({ davisRoot: join(dataRoot, "davis-judo"), stcn: join(dir, "stcn.pt"), out, size: 128 });
    expect(again.units.map((u) => u.status)).toEqual(["skipped", "skipped"]);
    const forced = await reproduceStudy({ davisRoot: join(dataRoot, "davis-judo"), stcn: join(dir, "stcn.pt"), out, size: 128, tables: [2], force: true });
    expect(forced.units.map((u) => `${u.table}/${u.status}`)).toEqual(["2/computed"]);
    expect(forced.units[0]!.marker.reusedFrom).toBeUndefined();
    // The report keeps Table 1, planned by the earlier run into this folder.
    expect(forced.report.tables.map((t) => `${t.table}:${t.rows[0]!.status}`)).toEqual(["1:done", "2:done"]);
    for (const f of frames) {
      expect(readFileSync(join(out, "table-2", "gt", "judo", f)).equals(readFileSync(join(out, "table-1", "gt", "judo", f))), f).toBe(true);
    }
  }, 600_000);
});
