/**
 * The CLI's style rules (docs/cli.md) on every command: `--json` is one JSON document
 * `{stcn, command, result}` on stdout; a missing or bad option is exactly one line on stderr ending
 * with `see: stcn <command> --help`, exit 2; `--version` is the package's. Inputs come from one quick
 * `stcn demo` run (frames, ground truth, a DAVIS root) and seeded random-weight exports.
 */
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { repoRoot, tempDir } from "./helpers.js";
import { consumerProject, pkg } from "./package-helpers.js";

const cli = join(repoRoot, "dist", "cli.js");
const stcn = (args: string[], cwd = repoRoot) => spawnSync(process.execPath, [cli, ...args], { cwd, encoding: "utf8", timeout: 600_000 });

function json(args: string[]): { command: string; result: Record<string, unknown> } {
  const r = stcn([...args, "--json"]);
  expect(r.status, r.stderr).toBe(0);
  const doc = JSON.parse(r.stdout) as { stcn: string; command: string; result: Record<string, unknown> };
  expect(Object.keys(doc)).toEqual(["stcn", "command", "result"]);
  expect(doc.stcn).toBe(pkg.version);
  expect(typeof doc.result).toBe("object");
  return doc;
}

/** One stderr line `stcn: ... [ERR_STCN_ARGUMENT]; see: stcn <command> --help`, exit 2, nothing on stdout. */
function usage(args: string[], command: string, pattern: RegExp): void {
  const r = stcn(args);
  expect(r.status, r.stderr).toBe(2);
  expect(r.stdout).toBe("");
  const lines = r.stderr.trim().split("\n");
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
  expect(lines[0]).toMatch(new RegExp(`^stcn: .* \\[ERR_STCN_ARGUMENT\\]; see: stcn ${command} --help$`));
}

describe("stcn --version", () => {
  it("prints stcn-node's version from a folder whose package.json says otherwise", () => {
    const other = consumerProject("module");
    const r = stcn(["--version"], other);
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
  });
});

describe("help", () => {
  const commands = ["segment", "annotate", "evaluate", "crf", "boxes-to-davis", "reproduce", "report", "view", "export", "export stcn", "export dino", "demo", "info", "smoke", "queue submit", "queue worker", "queue status", "queue wait"];
  it("shows defaults as a person writes them (no float noise, no absolute install paths) and each choice once", () => {
    for (const command of commands) {
      const r = stcn([...command.split(" "), "--help"]);
      expect(r.status, command).toBe(0);
      expect(r.stdout, command).not.toMatch(/\d\.\d{5,}/);
      expect(r.stdout, command).not.toContain(repoRoot);
      // A choice list appears in [choices: ...] only, not again in the option's or command's description.
      for (const line of r.stdout.split("\n")) {
        const m = /\[choices: ([^\]]+)\]/.exec(line);
        if (!m) continue;
        const values = (m[1] as string).split(", ").map((v) => v.replace(/"/g, ""));
        // Listed again = two of the choices written as a list ("a|b", "a, b", "a or b") before [choices:].
        const described = line.slice(0, m.index);
        const listed = values.some((a, i) => values.slice(i + 1).some((b) => new RegExp(`\\b${a}\\s*(\\||,|or)\\s*${b}\\b`).test(described)));
        expect(listed, `${command}: ${line}`).toBe(false);
      }
    }
    const annotate = stcn(["annotate", "--help"]).stdout;
    expect(annotate).toMatch(/--gt-prob .*\[default: 0\.9091\]/);
    // The methods are listed by --method's [choices: ...], not again in the command's description.
    expect(annotate.split("\n")[2]).not.toMatch(/maskrcnn|pointrend|lost/);
  });
});

describe("usage errors: one line, see: stcn <command> --help, exit 2", () => {
  const cases: Array<[string[], string, RegExp]> = [
    [["segment", "--frames", "x", "--mask", "m.png", "--out", "o"], "segment", /Missing required argument: model/],
    [["annotate", "--model", "m.pt", "--frames", "f", "--out", "o.png"], "annotate", /Missing required argument: method/],
    [["annotate", "--method", "nope", "--model", "m.pt", "--frames", "f", "--out", "o.png"], "annotate", /Invalid values:.*method/],
    [["evaluate", "--results", "r"], "evaluate", /Missing required argument: davis/],
    [["crf", "--mask", "m.png", "--out", "o.png"], "crf", /Missing required argument: image/],
    [["boxes-to-davis", "--out", "o"], "boxes-to-davis", /Missing required argument: annotations/],
    [["reproduce", "--out", "o"], "reproduce", /Missing required argument: stcn/],
    [["export", "dino", "--out", "o.pt"], "export", /Missing required argument: arch/],
    [["demo", "--bogus"], "demo", /Unknown argument: bogus/],
    [["info", "--bogus"], "info", /Unknown argument: bogus/],
    [["smoke", "--bogus"], "smoke", /Unknown argument: bogus/],
    [["report"], "report", /Not enough non-option arguments/],
    [["view"], "view", /Not enough non-option arguments/],
    [["queue", "status"], "queue", /Not enough non-option arguments/],
    [["queue", "submit", "--out", "o"], "queue", /Missing required argument: stcn/],
    [["evaluate", "--davis", "d", "--results", "r", "--workers", "1.5"], "evaluate", /--workers must be an integer/],
  ];
  for (const [args, command, pattern] of cases) {
    it(`stcn ${args.join(" ")}`, () => usage(args, command, pattern));
  }
  it("no command at all", () => {
    const r = stcn([]);
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe("stcn: name a command (stcn --help lists them) [ERR_STCN_ARGUMENT]; see: stcn --help");
  });
});

describe("--json on every computing command", () => {
  let demo: string;
  let models: string;
  const seq = "synth-002027";
  beforeAll(() => {
    demo = join(tempDir("stcn-style-"), "demo");
    models = tempDir("stcn-style-models-");
    const d = stcn(["demo", "--length", "6", "--quiet", "--out", demo]);
    expect(d.status, d.stderr).toBe(0);
  }, 600_000);

  it("info", () => {
    const doc = json(["info"]);
    expect(doc.command).toBe("info");
    expect(doc.result).toMatchObject({ flavour: expect.stringMatching(/^(cpu|cuda)$/), libtorch: expect.any(String) });
  });

  it("demo", () => {
    const doc = json(["demo", "--length", "6", "--out", join(tempDir(), "demo")]);
    expect(doc.result).toMatchObject({ fps: expect.any(Number), global: { "J&F-Mean": expect.any(Number) } });
  });

  it("segment", () => {
    const out = tempDir();
    const doc = json(["segment", "--model", join(repoRoot, "models/demo/stcn-demo.pt"), "--frames", join(demo, "frames", seq), "--mask", join(demo, "masks-gt", seq, "00000.png"), "--out", out, "--size", "0"]);
    expect(doc.result).toMatchObject({ frames: 6, outputs: [out] });
  });

  it("evaluate", () => {
    const doc = json(["evaluate", "--davis", join(demo, "davis"), "--results", join(demo, "masks"), "--set", "demo", "--out", tempDir()]);
    expect(doc.result).toMatchObject({ global: { "J&F-Mean": expect.any(Number) } });
  });

  it("crf", () => {
    const out = join(tempDir(), "crf.png");
    const doc = json(["crf", "--image", join(demo, "frames", seq, "00003.jpg"), "--mask", join(demo, "masks-gt", seq, "00003.png"), "--out", out]);
    expect(doc.result).toMatchObject({ out, outProb: null, nLabels: expect.any(Number) });
  });

  it("boxes-to-davis", () => {
    const dir = tempDir();
    const annotations = join(dir, "annotations.json");
    const box = { box2d: { x1: 10, y1: 10, x2: 60, y2: 50 }, category: "thing", gt_annotation: "object 0", standard_category: "0000" };
    writeFileSync(annotations, JSON.stringify({ "7": [{ name: "7/0001.jpg", labels: [box] }, { name: "7/0002.jpg", labels: [box] }] }));
    const doc = json(["boxes-to-davis", "--annotations", annotations, "--out", join(dir, "root"), "--size", "427x240"]);
    expect(doc.result).toMatchObject({ set: "val", placeholders: true });
  });

  it("export and annotate (lost on a random-weight DINO)", () => {
    const dino = join(models, "dino.pt");
    const e = json(["export", "dino", "--arch", "vit_tiny", "--random-init", "--seed", "3", "--out", dino]);
    expect(e).toMatchObject({ command: "export dino", result: { model: "dino", out: dino } });
    const a = json(["annotate", "--method", "lost", "--model", dino, "--frames", join(demo, "frames", seq), "--out", join(tempDir(), "lost.png")]);
    expect(a.result).toMatchObject({ method: "lost", objects: [expect.objectContaining({ id: 1 })] });
  });

  it("smoke", () => {
    const doc = json(["smoke"]);
    expect(doc.result).toMatchObject({ device: "cpu", shape: expect.any(Array) });
  });
});
