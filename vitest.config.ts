import { defineConfig } from "vitest/config";

// Tests exercise the built package (dist/ + the native addon), exactly what users import.
// Native suites run in forked processes (a crash fails one file, not the runner), one file at a time
// on this 2-core machine so timing-sensitive tests (event loop) are not starved.
//
// Five groups (vitest projects), each runnable alone with `npm run test:<group>`:
// - unit:   pure TypeScript, no addon, no Python;
// - native: the addon (LibTorch), without numeric comparison against a reference implementation;
// - parity: every float tolerance of the suite: numbers compared with reference implementations
//           (Python, the official toolkit's CSVs, reference CRF outputs) or with another precision
//           (bfloat16 against float32). `npm test` runs this group a second time with oneDNN and ATen
//           capped at AVX2, so a tolerance measured on one CPU cannot turn another CPU's run red;
//           `npm run test:audit` prints the worst value each bound has seen at both (docs/testing.md).
// - browser: the result viewer in a real headless Chromium (Debian's chromium, playwright-core).
// - package: the package as users get it (npm pack, install of the tarball with the toolchain
//            disabled, the prebuild, consumer typings, the CLI's style rules; docs/install.md).
const groups: Record<string, string[]> = {
  unit: [
    "test/architecture.test.ts",
    "test/check.test.ts",
    "test/davis-errors.test.ts",
    "test/davis-reader.test.ts",
    "test/libtorch-match.test.ts",
    "test/demo-generator.test.ts",
    "test/queue-payload.test.ts",
    "test/study-report.test.ts",
    "test/view-scan.test.ts",
  ],
  parity: [
    "test/crf.test.ts",
    "test/davis-metrics.test.ts",
    "test/davis-parity.test.ts",
    "test/davis-boxes-to-davis.test.ts",
    "test/demo-model.test.ts",
    "test/detection-maskrcnn.test.ts",
    "test/detection-ops.test.ts",
    "test/detection-pointrend.test.ts",
    "test/lost-dino.test.ts",
    "test/lost-graph.test.ts",
    "test/png-decoder.test.ts",
    "test/stcn-model.test.ts",
    "test/stcn-bf16.test.ts",
    "test/stcn-parity.test.ts",
    "test/stcn-tracker.test.ts",
  ],
  browser: ["test/view-browser.test.ts"],
  package: ["test/package.test.ts", "test/package-source.test.ts", "test/cli-style.test.ts"],
};
const grouped = Object.values(groups).flat();

export default defineConfig({
  test: {
    pool: "forks",
    maxWorkers: 1,
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 300_000,
    reporters: ["default"],
    projects: [
      { extends: true, test: { name: "unit", include: groups.unit } },
      { extends: true, test: { name: "native", include: ["test/**/*.test.ts"], exclude: grouped } },
      { extends: true, test: { name: "parity", include: groups.parity } },
      { extends: true, test: { name: "browser", include: groups.browser } },
      { extends: true, test: { name: "package", include: groups.package } },
    ],
  },
});
