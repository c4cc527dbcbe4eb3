/**
 * Parity with the official DAVIS 2017 toolkit: ../shared/data/davis-mini holds a DAVIS root, three
 * methods' results and the CSVs `evaluation_method.py --task semi-supervised` wrote for them. Every
 * number of every row must agree within 1e-3 (the CSVs carry 3 decimals); the library call, the CLI,
 * one worker, several workers and the inline mode must all give the same numbers.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { evaluateDavis } from "../dist/index.js";
import { repoRoot, tempDir, dataPath } from "./helpers.js";

const mini = dataPath("davis-mini");
const davisRoot = join(mini, "DAVIS");
const methods = ["dilate3", "shift-drop", "swap-noise"];
const cli = join(repoRoot, "dist", "cli.js");

function parseCsv(text: string): string[][] {
  return text
    .trim()
    .split(/\r?\n/)
    .map((line) => line.split(","));
}

/** Same header, same row names, every number within 1e-3 (empty field = NaN on both sides). */
function expectCsvClose(actual: string, expected: string, what: string): void {
  const a = parseCsv(actual);
  const e = parseCsv(expected);
  expect(a.length, `${what}: rows`).toBe(e.length);
  expect(a[0], `${what}: header`).toEqual(e[0]);
  for (let r = 1; r < e.length; r++) {
    const ar = a[r] as string[];
    const er = e[r] as string[];
    expect(ar.length, `${what}: row ${r} fields`).toBe(er.length);
    er.forEach((cell, c) => {
      const x = Number(cell);
      if (Number.isNaN(x)) {
        expect(ar[c], `${what}: row ${r} column ${c}`).toBe(cell);
      } else {
        expect(Math.abs(Number(ar[c]) - x), `${what}: row ${r} (${er[0]}) column ${(e[0] as string[])[c]}: ${ar[c]} vs ${cell}`).toBeLessThanOrEqual(1e-3 + 1e-12);
      }
    });
  }
}

describe("DAVIS evaluation parity with the official toolkit (davis-mini)", () => {
  for (const method of methods) {
    it(`${method}: library call equals the official CSVs`, async () => {
      const out = tempDir("stcn-davis-");
      const progress: number[] = [];
      const evaluation = await evaluateDavis({ davisRoot, resultsPath: join(mini, "results", method), out, workers: 2, onProgress: (done, total) => progress.push(done / total) });
      expect(progress.at(-1)).toBe(1);
      expect(evaluation.files).toEqual({ global: join(out, "global_results-val.csv"), perSequence: join(out, "per-sequence_results-val.csv") });
      const expectedGlobal = readFileSync(join(mini, "expected", method, "global_results-val.csv"), "utf8");
      const expectedSeq = readFileSync(join(mini, "expected", method, "per-sequence_results-val.csv"), "utf8");
      const writtenGlobal = readFileSync(join(out, "global_results-val.csv"), "utf8");
      const writtenSeq = readFileSync(join(out, "per-sequence_results-val.csv"), "utf8");
      expect(writtenGlobal).toBe(evaluation.globalCsv);
      expect(writtenSeq).toBe(evaluation.perSequenceCsv);
      expectCsvClose(writtenGlobal, expectedGlobal, `${method} global`);
      expectCsvClose(writtenSeq, expectedSeq, `${method} per-sequence`);
      // The structured result agrees with its own CSV and with the protocol's shape.
      expect(evaluation.objects.map((o) => o.name)).toEqual(parseCsv(expectedSeq).slice(1).map((r) => r[0]));
      expect(evaluation.sequences.map((s) => [s.name, s.objects, s.width])).toEqual([
        ["bike-packing", 2, 910],
        ["judo", 2, 854],
        ["lab-coat", 5, 854],
        ["car-shadow", 1, 854],
      ]);
      for (const o of evaluation.objects) {
        const s = evaluation.sequences.find((q) => q.name === o.sequence);
        expect(o.j.length).toBe(s?.frameIds.length);
      }
      // First and last frames are dropped.
      const judo = evaluation.sequences.find((s) => s.name === "judo");
      expect(judo?.frameIds[0]).toBe("00001");
      expect(judo?.frameIds.length).toBe(34 - 2);
      const g = evaluation.global;
      expect(g["J&F-Mean"]).toBe((g["J-Mean"] + g["F-Mean"]) / 2);
    });
  }

  it("gives identical numbers inline, with one worker and with three workers and small chunks", async () => {
    const resultsPath = join(mini, "results", "swap-noise");
    const sequences = ["judo", "lab-coat"];
    const a = await evaluateDavis({ davisRoot, resultsPath, sequences, out: false, workers: 0 });
    const b = await evaluateDavis({ davisRoot, resultsPath, sequences, out: false, workers: 1, chunkFrames: 40 });
    const c = await evaluateDavis({ davisRoot, resultsPath, sequences, out: false, workers: 3, chunkFrames: 3 });
    for (const other of [b, c]) {
      expect(other.global).toEqual(a.global);
      expect(other.objects.map((o) => [o.name, Array.from(o.j), Array.from(o.f)])).toEqual(a.objects.map((o) => [o.name, Array.from(o.j), Array.from(o.f)]));
    }
    expect(a.files).toBeUndefined();
    expect(existsSync(join(resultsPath, "global_results-val.csv"))).toBe(false);
    // Defaults: a library caller gets worker threads (its event loop stays free); `blocking` runs a
    // small evaluation inline.
    const d = await evaluateDavis({ davisRoot, resultsPath, sequences, out: false });
    const e = await evaluateDavis({ davisRoot, resultsPath, sequences, out: false, blocking: true });
    expect(d.workers).toBeGreaterThanOrEqual(1);
    expect(e.workers).toBe(0);
    for (const other of [d, e]) expect(other.global).toEqual(a.global);
  });

  it("the CLI prints the table and writes both CSVs into --out; a --sequences subset pools only those objects", () => {
    const out = tempDir("stcn-davis-cli-");
    const stdout = execFileSync(process.execPath, [cli, "evaluate", "--davis", davisRoot, "--results", join(mini, "results", "dilate3"), "--out", out, "--workers", "2"], {
      encoding: "utf8",
    });
    expect(stdout).toContain("Global results for val");
    expect(stdout).toMatch(/J&F-Mean\s+J-Mean\s+J-Recall\s+J-Decay\s+F-Mean\s+F-Recall\s+F-Decay\n\s+0\.926\s+0\.853/);
    expectCsvClose(readFileSync(join(out, "global_results-val.csv"), "utf8"), readFileSync(join(mini, "expected", "dilate3", "global_results-val.csv"), "utf8"), "cli global");

    const sub = tempDir("stcn-davis-sub-");
    const run = spawnSync(process.execPath, [cli, "evaluate", "--davis", davisRoot, "--results", join(mini, "results", "dilate3"), "--out", sub, "--sequences", "judo,car-shadow"], {
      encoding: "utf8",
    });
    expect(run.status, run.stderr).toBe(0);
    // Without --workers the CLI scores a small evaluation on its main thread (blocking: true).
    expect(run.stdout).toContain("(0 worker thread(s))");
    const rows = parseCsv(readFileSync(join(sub, "per-sequence_results-val.csv"), "utf8"));
    expect(rows.map((r) => r[0])).toEqual(["Sequence", "judo_1", "judo_2", "car-shadow_1"]);
    // Per-object means equal the full run's rows; the global mean pools these 3 objects only.
    const full = parseCsv(readFileSync(join(mini, "expected", "dilate3", "per-sequence_results-val.csv"), "utf8"));
    for (const row of rows.slice(1)) expect(row).toEqual(full.find((r) => r[0] === row[0]));
  });

  it("never reuses CSVs left in the output folder (the official script does)", async () => {
    const out = tempDir("stcn-davis-stale-");
    writeFileSync(join(out, "global_results-val.csv"), "J&F-Mean,J-Mean,J-Recall,J-Decay,F-Mean,F-Recall,F-Decay\n0.111,0.111,0.111,0.111,0.111,0.111,0.111\n");
    writeFileSync(join(out, "per-sequence_results-val.csv"), "Sequence,J-Mean,F-Mean\nstale_1,0.111,0.111\n");
    await evaluateDavis({ davisRoot, resultsPath: join(mini, "results", "shift-drop"), out });
    expectCsvClose(readFileSync(join(out, "global_results-val.csv"), "utf8"), readFileSync(join(mini, "expected", "shift-drop", "global_results-val.csv"), "utf8"), "rewritten global");
    expect(readFileSync(join(out, "per-sequence_results-val.csv"), "utf8")).not.toContain("stale_1");
  });
});
