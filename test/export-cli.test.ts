import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadModule } from "../dist/index.js";
import { repoRoot, tempDir } from "./helpers.js";

const stcn = (args: string[]) =>
  spawnSync(process.execPath, [join(repoRoot, "dist/cli.js"), ...args], { encoding: "utf8", timeout: 600_000 });

describe("stcn export stcn | dino", () => {
  it("exports loadable archives with the exporters' metadata", async () => {
    const dir = tempDir();
    const s = stcn(["export", "stcn", "--random-init", "--seed", "4", "--out", join(dir, "stcn.pt")]);
    expect(s.status, s.stderr).toBe(0);
    const d = stcn(["export", "dino", "--arch", "vit_small", "--random-init", "--seed", "4", "--out", join(dir, "dino.pt")]);
    expect(d.status, d.stderr).toBe(0);
    const m = await loadModule(join(dir, "stcn.pt"));
    expect(m.methods).toEqual(expect.arrayContaining(["encode_key", "encode_value", "decode"]));
    expect(m.metadata).toMatchObject({ model: "stcn", seed: 4 });
    m.dispose();
    const v = await loadModule(join(dir, "dino.pt"));
    expect(v.metadata).toMatchObject({ arch: "vit_small" });
    v.dispose();
  });

  it("a missing checkpoint: non-zero exit, one line naming the file, no archive", () => {
    const dir = tempDir();
    const r = stcn(["export", "stcn", "--checkpoint", join(dir, "missing.pth"), "--out", join(dir, "x.pt")]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("missing.pth");
    expect(r.stderr).toContain("ERR_STCN_INPUT");
    expect(existsSync(join(dir, "x.pt"))).toBe(false);
  });
});
