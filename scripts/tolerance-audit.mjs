#!/usr/bin/env node
// Tolerance audit: runs the `parity` test group (every float tolerance of the suite) at the machine's
// native ISA and again with oneDNN and ATen capped at AVX2, with STCN_DRIFT_LOG set so that each test
// records the value it compared beside its bound (test/helpers.ts `recordDrift`). Prints one Markdown
// table: every bound, the worst value seen at each ISA, and the headroom (bound / worst).
//
// usage: npm run test:audit [-- --out FILE.md]   (needs the built package; about twice the parity group's time)
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const outIndex = process.argv.indexOf("--out");
const outFile = outIndex > 0 ? process.argv[outIndex + 1] : undefined;
const work = mkdtempSync(join(tmpdir(), "stcn-tolerance-audit-"));
const AVX2 = { DNNL_MAX_CPU_ISA: "AVX2", ONEDNN_MAX_CPU_ISA: "AVX2", ATEN_CPU_CAPABILITY: "avx2" };

function run(label, extraEnv) {
  const log = join(work, `${label}.jsonl`);
  writeFileSync(log, "");
  const env = { ...process.env, ...extraEnv, STCN_DRIFT_LOG: log };
  for (const k of Object.keys(AVX2)) if (!(k in extraEnv)) delete env[k];
  const r = spawnSync(process.execPath, [join(repo, "node_modules", "vitest", "vitest.mjs"), "run", "--project", "parity"], { cwd: repo, env, stdio: ["ignore", "inherit", "inherit"] });
  const entries = readFileSync(log, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
  return { status: r.status, entries };
}

try {
  const native = run("native", {});
  const capped = run("avx2", AVX2);
  const rows = new Map();
  for (const [isa, result] of [["native", native], ["avx2", capped]]) {
    for (const e of result.entries) {
      const row = rows.get(e.name) ?? { bound: e.bound, native: -Infinity, avx2: -Infinity };
      row[isa] = Math.max(row[isa], e.value);
      rows.set(e.name, row);
    }
  }
  const fmt = (x) => (x === -Infinity ? "-" : x === 0 ? "0" : Math.abs(x) >= 0.01 ? x.toFixed(4) : x.toExponential(1));
  const lines = [
    `CPU: ${cpus()[0]?.model ?? "?"}; parity group exit status: native ${native.status}, AVX2-capped ${capped.status}`,
    "",
    "| check | bound | worst, native ISA | worst, AVX2 cap | headroom |",
    "| --- | --- | --- | --- | --- |",
  ];
  for (const [name, r] of [...rows].sort(([a], [b]) => a.localeCompare(b))) {
    const worst = Math.max(r.native, r.avx2);
    const headroom = r.bound > 0 && worst > 0 ? `${(r.bound / worst).toFixed(1)}x` : r.bound === 0 ? `margin ${fmt(-worst)}` : "exact";
    lines.push(`| ${name} | ${fmt(r.bound)} | ${fmt(r.native)} | ${fmt(r.avx2)} | ${headroom} |`);
  }
  const text = lines.join("\n") + "\n";
  process.stdout.write("\n" + text);
  if (outFile) writeFileSync(outFile, text);
  process.exitCode = native.status || capped.status ? 1 : 0;
} finally {
  rmSync(work, { recursive: true, force: true });
}
