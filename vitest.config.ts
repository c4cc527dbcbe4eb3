import { defineConfig } from "vitest/config";

// Tests exercise the built package (dist/ + the native addon), exactly what users import.
// Native suites run in forked processes (a crash fails one file, not the runner), one file at a time
// on this 2-core machine so timing-sensitive tests (event loop) are not starved.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    pool: "forks",
    maxWorkers: 1,
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 300_000,
    reporters: ["default"],
  },
});
