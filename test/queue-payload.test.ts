/**
 * The queue's pure checks (no Redis, no addon): Redis URLs are shown without their password, and a
 * worker's payload check refuses paths outside the run's declared roots (`..` included), units the run
 * did not plan, odd sequence names, a missing configuration, and paths outside the worker's --allow.
 */
import { describe, expect, it } from "vitest";
import { payloadProblem, redactRedisUrl, RUN_RECORD_FORMAT, type RunRecord, type UnitJobData } from "../dist/index.js";

const record: RunRecord = {
  format: RUN_RECORD_FORMAT,
  id: "run-abc-123456",
  createdAt: "2026-12-03T00:00:00.000Z",
  out: "/shared/study",
  roots: ["/shared/study", "/shared/DAVIS", "/shared/models/stcn.pt"],
  queue: "units-cpu",
  device: "cpu",
  units: [{ table: 1, method: "gt", sequence: "judo", job: "run-abc-123456.t1.gt.judo", frames: 8, done: false }],
};
const good: UnitJobData = {
  run: record.id,
  unit: { table: 1, method: "gt", sequence: "judo" },
  out: "/shared/study",
  source: { kind: "davis", root: "/shared/DAVIS", set: "val" },
  stcn: "/shared/models/stcn.pt",
  config: { stcn: "0".repeat(64), topK: 20, memEvery: 5, size: 480, device: "cpu", root: "/shared/DAVIS", set: "val" },
  topK: 20,
  memEvery: 5,
  size: 480,
};

describe("redactRedisUrl", () => {
  it("masks passwords (and a lone user part), keeps host and port", () => {
    expect(redactRedisUrl("redis://:hunter2@queue:6379")).toBe("redis://:***@queue:6379");
    expect(redactRedisUrl("redis://alice:hunter2@queue:6379/2")).toBe("redis://alice:***@queue:6379/2");
    expect(redactRedisUrl("rediss://hunter2@queue:6380")).toBe("rediss://***@queue:6380");
    expect(redactRedisUrl("redis://127.0.0.1:6379")).toBe("redis://127.0.0.1:6379");
    expect(redactRedisUrl("hunter2")).toBe("<redis url>");
  });
});

describe("payloadProblem", () => {
  it("accepts a payload inside the declared roots", () => {
    expect(payloadProblem(good, record)).toBeUndefined();
    expect(payloadProblem(good, record, ["/shared"])).toBeUndefined();
  });

  it("refuses paths outside the roots, also through ..", () => {
    expect(payloadProblem({ ...good, out: "/shared/study/../../etc" }, record)).toBe('out "/shared/study/../../etc" is outside the run\'s declared roots');
    expect(payloadProblem({ ...good, stcn: "/tmp/evil.pt" }, record)).toMatch(/^stcn model "\/tmp\/evil.pt" is outside/);
    expect(payloadProblem({ ...good, source: { kind: "davis", root: "/shared/DAVIS-other", set: "val" } }, record)).toMatch(/^source root .* is outside/);
    expect(payloadProblem({ ...good, stcn: "models/stcn.pt" }, record)).toMatch(/^stcn model "models\/stcn.pt" is outside/);
    expect(payloadProblem({ ...good, annotator: "/etc/passwd" }, record)).toMatch(/^first-frame model "\/etc\/passwd" is outside/);
    expect(payloadProblem({ ...good, out: "/shared/study/table-1" }, record)).toBe("out /shared/study/table-1 is not the run's output root");
  });

  it("refuses units the run did not plan, odd names, a missing configuration, paths outside --allow", () => {
    expect(payloadProblem({ ...good, unit: { table: 1, method: "gt", sequence: "bike" } }, record)).toBe("unit table 1 gt bike is not planned by run run-abc-123456");
    expect(payloadProblem({ ...good, unit: { table: 1, method: "gt", sequence: "../judo" } }, record)).toMatch(/is not a \(table, method, sequence\) of the study/);
    expect(payloadProblem({ ...good, unit: { table: 4 as 1, method: "gt", sequence: "judo" } }, record)).toMatch(/is not a \(table, method, sequence\)/);
    expect(payloadProblem({ ...good, config: undefined as unknown as UnitJobData["config"] }, record)).toBe("the payload has no unit configuration");
    expect(payloadProblem({ ...good, size: -1 }, record)).toBe("size -1 is not an integer >= 0");
    expect(payloadProblem(good, record, ["/shared/study"])).toBe("source root /shared/DAVIS is outside this worker's allowed roots (--allow)");
  });
});
