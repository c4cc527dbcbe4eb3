/**
 * Resume: `stcn reproduce` killed (SIGKILL, a child process) while the second sequence propagates
 * leaves the first sequence done (marker), no half-written PNG, and a partial report (`stcn report`
 * marks the missing row); the rerun skips the finished sequence (counted frames), finishes the second,
 * and its outputs equal an uninterrupted run's byte for byte. SIGTERM stops cleanly between frames
 * (exit 143, no marker for the unfinished sequence, no temp file left).
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { readLabelPng } from "../dist/index.js";
import { repoRoot, tempDir } from "./helpers.js";
import { exportStcn, writeSomethingFixture, type SomethingFixture } from "./study-fixtures.js";

const cli = join(repoRoot, "dist", "cli.js");

interface Summary {
  complete: boolean;
  units: Array<{ table: number; method: string; sequence: string; status: "computed" | "skipped"; frames: number }>;
}

describe("stcn reproduce resume", () => {
  let dir: string;
  let fx: SomethingFixture;
  const args = (out: string, extra: string[] = []) => [
    cli,
    "reproduce",
    "--something-else", fx.annotations,
    "--something-frames", fx.frames,
    "--stcn", join(dir, "stcn.pt"),
    "--size", "128",
    "--out", out,
    "--json",
    ...extra,
  ];
  const runToEnd = (out: string, extra: string[] = []) => {
    const r = spawnSync(process.execPath, args(out, extra), { encoding: "utf8", maxBuffer: 64 << 20 });
    expect(r.status, r.stderr).toBe(0);
    return (JSON.parse(r.stdout) as { result: Summary }).result;
  };

  /** Starts a run and sends `signal` once the second sequence (judo) has written `afterFrames` frames. */
  function interrupt(out: string, signal: NodeJS.Signals, afterFrames: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, args(out), { stdio: ["ignore", "pipe", "pipe"] });
      let stderr = "";
      let started = false;
      let sent = false;
      const seqDir = join(out, "table-3", "gt", "judo");
      const poll = setInterval(() => {
        if (!started || sent || !existsSync(seqDir)) return;
        if (readdirSync(seqDir).filter((f) => f.endsWith(".png")).length >= afterFrames) {
          sent = true;
          child.kill(signal);
        }
      }, 20);
      child.stderr.on("data", (d: Buffer) => {
        stderr += d.toString();
        if (stderr.includes("table 3 gt judo: start")) started = true;
      });
      child.on("error", reject);
      child.on("exit", (code, sig) => {
        clearInterval(poll);
        resolve({ code, signal: sig, stderr });
      });
    });
  }

  beforeAll(async () => {
    dir = tempDir("stcn-resume-");
    // bike (4 frames) first, judo (16 frames) second: the kill lands in judo.
    fx = await writeSomethingFixture(dir, ["bike", "judo"]);
    exportStcn(join(dir, "stcn.pt"));
  }, 600_000);

  it("a killed run resumes from the next unfinished sequence with identical outputs", async () => {
    const reference = join(dir, "reference");
    const ref = runToEnd(reference);
    expect(ref.units.map((u) => `${u.sequence}:${u.status}:${u.frames}`)).toEqual(["bike:computed:4", "judo:computed:16"]);

    const out = join(dir, "killed");
    const killed = await interrupt(out, "SIGKILL", 3);
    expect(killed.signal).toBe("SIGKILL");
    const gtDir = join(out, "table-3", "gt");
    expect(existsSync(join(gtDir, ".done", "bike.json"))).toBe(true);
    expect(existsSync(join(gtDir, ".done", "judo.json"))).toBe(false);
    // Whatever PNG the killed run left is whole (written to a temp name, then renamed).
    const left = readdirSync(join(gtDir, "judo")).filter((f) => f.endsWith(".png"));
    expect(left.length).toBeGreaterThanOrEqual(3);
    expect(left.length).toBeLessThan(16);
    for (const f of left) await readLabelPng(join(gtDir, "judo", f));

    // The report of the partial run marks the missing row.
    const rep = spawnSync(process.execPath, [cli, "report", out], { encoding: "utf8" });
    expect(rep.status, rep.stderr).toBe(0);
    expect(readFileSync(join(out, "table-3.csv"), "utf8")).toContain("\ngt,,,,,\n");
    const md = readFileSync(join(out, "report.md"), "utf8");
    expect(md).toContain("**Partial run**");
    expect(md).toMatch(/\| ground-truth boxes \|.*\*\*missing\*\*: 1\/2 sequences done \(missing: judo\)/);
    expect(rep.stdout).toContain("[missing: 1/2 sequences done (missing: judo)]");

    // Rerun: bike is skipped (not recomputed), judo computed; outputs equal the uninterrupted run.
    const resumed = runToEnd(out);
    expect(resumed.complete).toBe(true);
    expect(resumed.units.map((u) => `${u.sequence}:${u.status}`)).toEqual(["bike:skipped", "judo:computed"]);
    expect(resumed.units.filter((u) => u.status === "computed").reduce((n, u) => n + u.frames, 0)).toBe(16);
    for (const rel of ["bike", "judo", "first-frames"]) {
      const names = readdirSync(join(reference, "table-3", "gt", rel)).sort();
      expect(readdirSync(join(gtDir, rel)).sort()).toEqual(names);
      for (const n of names) {
        expect(readFileSync(join(gtDir, rel, n)).equals(readFileSync(join(reference, "table-3", "gt", rel, n))), `${rel}/${n}`).toBe(true);
      }
    }
    const scores = (p: string) => readFileSync(p, "utf8").split("\n").map((l) => l.split(",").slice(0, 4).join(","));
    expect(scores(join(out, "table-3.csv"))).toEqual(scores(join(reference, "table-3.csv")));
    expect(readFileSync(join(gtDir, "global_results-val.csv"), "utf8")).toBe(readFileSync(join(reference, "table-3", "gt", "global_results-val.csv"), "utf8"));

    // A third run recomputes nothing.
    expect(runToEnd(out).units.map((u) => u.status)).toEqual(["skipped", "skipped"]);
    // --force redoes finished sequences (here only bike, the shorter one).
    const forced = runToEnd(out, ["--force", "--videos", "bike"]);
    expect(forced.units.map((u) => `${u.sequence}:${u.status}:${u.frames}`)).toEqual(["bike:computed:4"]);
    for (const n of readdirSync(join(reference, "table-3", "gt", "bike"))) {
      expect(readFileSync(join(gtDir, "bike", n)).equals(readFileSync(join(reference, "table-3", "gt", "bike", n))), n).toBe(true);
    }
  }, 900_000);

  it("SIGTERM stops at a frame boundary: exit 143, one line, no marker and no temp file for the unfinished sequence", async () => {
    const out = join(dir, "terminated");
    const r = await interrupt(out, "SIGTERM", 2);
    expect(r.code).toBe(143);
    expect(r.stderr).toMatch(/stcn: interrupted; rerun the same command to resume .* \[ERR_STCN_INTERRUPTED\]/);
    const gtDir = join(out, "table-3", "gt");
    expect(existsSync(join(gtDir, ".done", "bike.json"))).toBe(true);
    expect(existsSync(join(gtDir, ".done", "judo.json"))).toBe(false);
    // The unfinished unit leaves nothing: neither its frames nor its first frame (nor temp files).
    expect(existsSync(join(gtDir, "judo"))).toBe(false);
    expect(existsSync(join(gtDir, "first-frames", "judo.png"))).toBe(false);
    // The partial report was written on the way out.
    expect(readFileSync(join(out, "table-3.csv"), "utf8")).toContain("\ngt,,,,,\n");
  }, 300_000);
});
