#!/usr/bin/env node
/**
 * DAVIS 2017 evaluation speed: ours (dist/, worker threads) vs the official toolkit on
 * ../shared/data/davis-mini (4 sequences, 190 frames, 3 methods). One run of each.
 *
 *   node bench/davis-eval.js                       # ours only; the reference figure is the recorded one
 *   DAVIS_TOOLKIT=/path/to/davis2017-evaluation node bench/davis-eval.js
 *                                                  # also times evaluation_method.py with /usr/bin/python3
 *
 * Env: DAVIS_MINI (data folder), BENCH_WORKERS (worker threads; default: available cores),
 * DAVIS_PYTHON (interpreter for the toolkit, default /usr/bin/python3).
 * Numbers are also compared: ours vs the CSVs stored with the data, and vs the toolkit's fresh CSVs.
 */
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism, cpus, loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { evaluateDavis } from "../dist/index.js";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const mini = resolve(process.env.DAVIS_MINI ?? join(repo, "..", "shared", "data", "davis-mini"));
const davisRoot = join(mini, "DAVIS");
const methods = ["dilate3", "shift-drop", "swap-noise"];
const workers = process.env.BENCH_WORKERS === undefined ? undefined : Number(process.env.BENCH_WORKERS);
const toolkit = process.env.DAVIS_TOOLKIT;
const pythonBin = process.env.DAVIS_PYTHON ?? "/usr/bin/python3";
const RECORDED_OFFICIAL_S = 13; // davis-mini/README.md: "about 13 s per method here (2 cores)"

/**
 * Runs a command through bash and returns its wall seconds and the CPU seconds (user + system) of it
 * and its children (bash's `times`): CPU time is far less sensitive to other load than wall time.
 */
function timed(argv, options = {}) {
  const quoted = argv.map((a) => `'${String(a).replace(/'/g, "'\\''")}'`).join(" ");
  const t = performance.now();
  const r = spawnSync("bash", ["-c", `${quoted} >/dev/null 2>"$STCN_BENCH_ERR"; rc=$?; times; exit $rc`], {
    encoding: "utf8",
    maxBuffer: 1 << 26,
    ...options,
    env: { ...process.env, ...options.env },
  });
  const wallS = (performance.now() - t) / 1000;
  const lines = r.stdout.trim().split("\n");
  const [u, sys] = (lines[lines.length - 1] ?? "").split(" ").map((x) => {
    const m = /^(\d+)m([\d.]+)s$/.exec(x);
    return m ? Number(m[1]) * 60 + Number(m[2]) : Number.NaN;
  });
  return { status: r.status, wallS, cpuS: u + sys };
}

/** Max |difference| between two CSV texts of the same shape (Infinity if the shapes differ). */
function csvDiff(a, b) {
  const pa = a.trim().split(/\r?\n/).map((l) => l.split(","));
  const pb = b.trim().split(/\r?\n/).map((l) => l.split(","));
  if (pa.length !== pb.length || pa[0].join() !== pb[0].join()) return Infinity;
  const named = pa[0][0] === "Sequence"; // per-sequence CSV: column 0 is the row name
  let max = 0;
  for (let r = 1; r < pa.length; r++) {
    if (pa[r].length !== pb[r].length || (named && pa[r][0] !== pb[r][0])) return Infinity;
    for (let c = named ? 1 : 0; c < pa[r].length; c++) {
      const x = Number(pa[r][c]);
      const y = Number(pb[r][c]);
      if (pa[r][c] === "" && pb[r][c] === "") continue;
      max = Math.max(max, Math.abs(x - y));
    }
  }
  return max;
}

const frames = 190;
console.log(`davis-eval bench: ${mini}`);
console.log(
  `machine: ${cpus()[0]?.model ?? "?"} x${availableParallelism()}, load average ${loadavg()
    .map((l) => l.toFixed(1))
    .join(" ")}; node ${process.version}`,
);
console.log("");

const rows = [];
for (const method of methods) {
  const resultsPath = join(mini, "results", method);
  const out = mkdtempSync(join(tmpdir(), "davis-bench-"));
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const evaluation = await evaluateDavis({ davisRoot, resultsPath, out, workers });
  const oursS = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const oursCpuS = (cpu.user + cpu.system) / 1e6; // all threads of this process (workers included)
  // Whole CLI process too (start-up, module loading, printing), comparable with running the Python script.
  const errFile = join(out, "stderr.txt");
  const cli = timed([process.execPath, join(repo, "dist", "cli.js"), "evaluate", "--davis", davisRoot, "--results", resultsPath, "--out", out, "--quiet", ...(workers === undefined ? [] : ["--workers", String(workers)])], {
    env: { STCN_BENCH_ERR: errFile },
  });
  const cliS = cli.wallS;
  const cliCpuS = cli.cpuS;
  if (cli.status !== 0) throw new Error(`stcn evaluate failed: ${readFileSync(errFile, "utf8")}`);
  const expectedDiff = Math.max(
    csvDiff(evaluation.globalCsv, readFileSync(join(mini, "expected", method, "global_results-val.csv"), "utf8")),
    csvDiff(evaluation.perSequenceCsv, readFileSync(join(mini, "expected", method, "per-sequence_results-val.csv"), "utf8")),
  );
  const identical =
    evaluation.globalCsv === readFileSync(join(mini, "expected", method, "global_results-val.csv"), "utf8") &&
    evaluation.perSequenceCsv === readFileSync(join(mini, "expected", method, "per-sequence_results-val.csv"), "utf8");
  let refS;
  let refCpuS;
  let refDiff;
  if (toolkit) {
    // Fresh copy: the official script silently reuses CSVs already present in the results folder.
    const copy = mkdtempSync(join(tmpdir(), "davis-bench-ref-"));
    cpSync(resultsPath, copy, { recursive: true });
    const refErr = join(copy, "stderr.txt");
    const ref = timed(
      [pythonBin, join(toolkit, "evaluation_method.py"), "--task", "semi-supervised", "--set", "val", "--davis_path", davisRoot, "--results_path", copy],
      { cwd: toolkit, env: { STCN_BENCH_ERR: refErr } },
    );
    refS = ref.wallS;
    refCpuS = ref.cpuS;
    if (ref.status !== 0) throw new Error(`official toolkit failed (${ref.status}): ${readFileSync(refErr, "utf8").slice(-2000)}`);
    refDiff = Math.max(
      csvDiff(evaluation.globalCsv, readFileSync(join(copy, "global_results-val.csv"), "utf8")),
      csvDiff(evaluation.perSequenceCsv, readFileSync(join(copy, "per-sequence_results-val.csv"), "utf8")),
    );
    rmSync(copy, { recursive: true, force: true });
  }
  rmSync(out, { recursive: true, force: true });
  rows.push({ method, oursS, oursCpuS, cliS, cliCpuS, refCpuS, workers: evaluation.workers, identical, expectedDiff, refS, refDiff, jf: evaluation.global["J&F-Mean"] });
}

const pad = (s, n) => String(s).padEnd(n);
console.log(
  `${pad("method", 12)}${pad("J&F", 8)}${pad("ours (library)", 16)}${pad("ours CLI wall/CPU", 20)}${pad("official wall/CPU", 20)}ratio official/ours: wall, CPU`,
);
for (const r of rows) {
  const official = r.refS !== undefined ? `${r.refS.toFixed(2)} / ${r.refCpuS.toFixed(2)} s` : `~${RECORDED_OFFICIAL_S} s (rec.)`;
  const ratio =
    r.refS !== undefined
      ? `${(r.refS / r.cliS).toFixed(1)}x, ${(r.refCpuS / r.cliCpuS).toFixed(1)}x measured`
      : `~${(RECORDED_OFFICIAL_S / r.cliS).toFixed(1)}x wall vs recorded figure`;
  console.log(
    `${pad(r.method, 12)}${pad(r.jf.toFixed(3), 8)}${pad(`${r.oursS.toFixed(2)} s`, 16)}${pad(`${r.cliS.toFixed(2)} / ${r.cliCpuS.toFixed(2)} s`, 20)}${pad(official, 20)}${ratio}`,
  );
}
if (toolkit) {
  const sum = (k) => rows.reduce((s, r) => s + r[k], 0);
  console.log(`all methods: ${(sum("refS") / sum("cliS")).toFixed(1)}x wall, ${(sum("refCpuS") / sum("cliCpuS")).toFixed(1)}x CPU (target >= 25x)`);
}
console.log("");
const oursTotal = rows.reduce((s, r) => s + r.oursS, 0);
const cpuTotal = rows.reduce((s, r) => s + r.oursCpuS, 0);
console.log(
  `ours: ${(frames / (oursTotal / rows.length)).toFixed(0)} frames/s per method on average (${rows[0].workers} worker thread(s)); ` +
    `${((cpuTotal / rows.length / frames) * 1000).toFixed(1)} ms CPU per frame (all threads; "ours CPU" = CPU seconds, less sensitive to other load than wall time)`,
);
for (const r of rows) {
  const vsExpected = r.identical ? "CSVs byte-identical to the stored official CSVs" : `max |diff| vs stored official CSVs ${r.expectedDiff}`;
  const vsRef = r.refDiff === undefined ? "" : `; max |diff| vs the toolkit's fresh CSVs ${r.refDiff}`;
  console.log(`${r.method}: ${vsExpected}${vsRef}`);
}
if (!toolkit) {
  console.log("");
  console.log(
    `reference not run: DAVIS_TOOLKIT is unset. The official figure above is the one recorded in davis-mini/README.md ` +
      `(about ${RECORDED_OFFICIAL_S} s per method on 2 cores), not measured in this run.`,
  );
}
const bad = rows.filter((r) => !(r.expectedDiff <= 1e-3) || (r.refDiff !== undefined && !(r.refDiff <= 1e-3)));
if (bad.length) {
  console.error(`numbers differ for: ${bad.map((r) => r.method).join(", ")}`);
  process.exit(1);
}
