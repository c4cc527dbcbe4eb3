/**
 * The study report from an output folder written here by hand (manifest + markers, no addon): a
 * partial method is marked missing with the sequences it lacks, skipped and not-run rows keep their
 * reasons, table-N.csv keeps the study's rows with empty values, markers with another key or a
 * missing file do not count, and the chart is an SVG with one bar per value.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { renderBarChartSvg } from "../dist/study/chart.js";
import { STUDY_MANIFEST_FORMAT, type StudyManifest } from "../dist/study/manifest.js";
import { doneUnit, UNIT_MARKER_FORMAT, unitKey, writeUnitMarker, type UnitConfig } from "../dist/study/marker.js";
import { buildStudyReport, reportMarkdown, writeStudyReport } from "../dist/study/report.js";
import { tempDir } from "./helpers.js";

const config: UnitConfig = { stcn: "a".repeat(64), topK: 20, memEvery: 5, size: 480, device: "cpu", root: "/data/root", set: "val" };

async function partialRun(): Promise<string> {
  const out = tempDir("stcn-report-");
  const key = unitKey(config);
  const manifest: StudyManifest = {
    format: STUDY_MANIFEST_FORMAT,
    startedAt: "2026-12-03T00:00:00.000Z",
    tables: [
      {
        table: 3,
        root: "/data/root",
        set: "val",
        sequences: ["a", "b"],
        methods: [
          { method: "gt", status: "run", key },
          { method: "maskrcnn", status: "skipped", reason: "no maskrcnn model given (--maskrcnn)" },
          { method: "lost", status: "run", key: unitKey({ ...config, annotator: "d".repeat(64) }) },
        ],
      },
    ],
    models: { stcn: { path: "/m/stcn.pt", sha256: "a".repeat(64) } },
    options: { topK: 20, memEvery: 5, size: 480, device: "cpu" },
    environment: { libtorch: "1.13.0", device: "cpu", threads: 2, flavour: "cpu", node: "v20", cpu: "test", platform: "linux-x64" },
  };
  writeFileSync(join(out, "study.json"), JSON.stringify(manifest));
  // gt: sequence a done (frames + marker); lost: sequence a has a marker of another configuration.
  for (const method of ["gt", "lost"] as const) {
    mkdirSync(join(out, "table-3", method, "a"), { recursive: true });
    mkdirSync(join(out, "table-3", method, "first-frames"), { recursive: true });
    writeFileSync(join(out, "table-3", method, "a", "00000.png"), "x");
    writeFileSync(join(out, "table-3", method, "first-frames", "a.png"), "x");
    await writeUnitMarker(out, {
      format: UNIT_MARKER_FORMAT,
      table: 3,
      method,
      sequence: "a",
      key,
      config,
      files: ["a/00000.png"],
      firstFrame: "first-frames/a.png",
      frames: 10,
      firstFrameMs: method === "gt" ? 0 : 50,
      propagationSeconds: 2,
      totalSeconds: 4,
      warnings: [],
      finishedAt: "2026-12-03T00:00:01.000Z",
    });
  }
  return out;
}

describe("study report of a partial run", () => {
  it("marks missing rows, keeps reasons, counts only valid markers", async () => {
    const out = await partialRun();
    const report = await buildStudyReport(out);
    expect(report.complete).toBe(false);
    const rows = report.tables[0]!.rows;
    expect(rows.map((r) => [r.method, r.status])).toEqual([
      ["gt", "partial"],
      ["maskrcnn", "skipped"],
      ["pointrend", "not-run"],
      ["lost", "partial"],
    ]);
    expect(rows[0]!.reason).toBe("1/2 sequences done (missing: b)");
    expect(rows[0]!.fps).toBe(5); // 10 frames / 2 s of propagation
    expect(rows[0]!.endToEndFps).toBe(2.5);
    expect(rows[3]!.reason).toBe("0/2 sequences done (missing: a, b)"); // its marker has another key
    expect(report.tables[0]!.csv).toBe("method,J&F-Mean,J-Mean,F-Mean,FPS,first-frame-ms\ngt,,,,,\nmaskrcnn,,,,,\npointrend,,,,,\nlost,,,,,\n");
    const md = reportMarkdown(report);
    expect(md).toContain("**Partial run**");
    expect(md).toContain("**missing**: 1/2 sequences done (missing: b)");
    expect(md).toContain("**skipped**: no maskrcnn model given (--maskrcnn)");
    expect(md).toContain("| 41.4 |");
    // A marker whose listed file is gone does not count.
    expect(await doneUnit(out, 3, "gt", "a", unitKey(config))).toBeDefined();
    rmSync(join(out, "table-3", "gt", "a", "00000.png"));
    expect(await doneUnit(out, 3, "gt", "a", unitKey(config))).toBeUndefined();
    const written = await writeStudyReport(out);
    expect(written.tables[0]!.rows[0]!.sequencesDone).toBe(0);
  });

  it("refuses a folder without a study manifest in one line", async () => {
    await expect(buildStudyReport(tempDir())).rejects.toMatchObject({ code: "ERR_STCN_INPUT", message: expect.stringContaining("is not the output folder of stcn reproduce") });
  });

  it("renders grouped bars to SVG with a charting library", async () => {
    const svg = await renderBarChartSvg(
      [
        { group: "Table 2", category: "gt", series: "ours", value: 80 },
        { group: "Table 2", category: "gt", series: "study", value: 85.3 },
        { group: "Table 3", category: "lost", series: "study", value: 17.2 },
      ],
      { title: "J&F", yTitle: "J&F (%)", yDomain: [0, 100] },
    );
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg).toContain("Table 3");
    expect(svg).toContain(">lost<");
    // One bar path per value, in the rect marks of each panel.
    const bars = svg.match(/<path aria-label="category: [^"]*series: /g) ?? [];
    expect(bars).toHaveLength(3);
  });
});
