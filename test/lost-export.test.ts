/**
 * torchscript/export_dino.py: a state_dict with the official DINO key set (written here from the
 * published key list, not from our module) loads strictly into ViT-B/16 and ViT-S/16; mismatched
 * checkpoints are refused with the offending keys listed.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { join } from "node:path";
import { rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { python, repoRoot, tempDir, testPython } from "./helpers.js";

let dir: string;

/**
 * Writes checkpoints with the official DINO ViT state_dict layout (torchscript/dino.py: cls_token (1,1,D),
 * pos_embed (1,197,D), patch_embed.proj, blocks.0..11.{norm1, attn.qkv, attn.proj, norm2, mlp.fc1,
 * mlp.fc2}.{weight,bias}, norm; head = Identity has no keys) filled with seeded random values.
 */
const MAKE_CHECKPOINTS = testPython("lost-export-make-checkpoints.py");

/** Compares an export's parameters with a checkpoint, key by key (exact). */
const COMPARE = testPython("lost-export-compare.py");

function exportDino(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(python, [join(repoRoot, "torchscript", "export_dino.py"), ...args], { encoding: "utf8", timeout: 600_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function compare(model: string, checkpoint: string): { same: boolean; keys: number; meta: Record<string, unknown> } {
  return JSON.parse(execFileSync(python, [COMPARE, model, checkpoint], { encoding: "utf8", timeout: 600_000 })) as {
    same: boolean;
    keys: number;
    meta: Record<string, unknown>;
  };
}

beforeAll(() => {
  dir = tempDir("stcn-dino-export-");
  expect(execFileSync(python, [MAKE_CHECKPOINTS, dir], { encoding: "utf8", timeout: 600_000 }).trim()).toBe("150");
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("official checkpoints load strictly", () => {
  it("ViT-B/16: the official key set (150 tensors) loads and every parameter is the checkpoint's", () => {
    const out = join(dir, "vitb.pt");
    const r = exportDino(["--arch", "vit_base", "--checkpoint", join(dir, "vitb16.pth"), "--out", out]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const c = compare(out, join(dir, "vitb16.pth"));
    expect(c.same).toBe(true);
    expect(c.keys).toBe(150);
    expect(c.meta).toMatchObject({ model: "dino", arch: "vit_base", patch_size: 16, embed_dim: 768, num_heads: 12, depth: 12 });
    expect(c.meta.weights).toMatchObject({ source: "checkpoint", file: "vitb16.pth", sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
  });

  it("ViT-S/16 from a training checkpoint's teacher (backbone. prefix stripped, head dropped)", () => {
    const out = join(dir, "vits-teacher.pt");
    const r = exportDino(["--arch", "vit_small", "--checkpoint", join(dir, "full.pth"), "--checkpoint-key", "teacher", "--out", out]);
    expect(r.status, r.stderr).toBe(0);
    const c = compare(out, join(dir, "full.pth"));
    expect(c.same).toBe(true);
    expect(c.meta.weights).toMatchObject({ key: "teacher" });
  });
});

describe("mismatched checkpoints are refused with the offending keys", () => {
  it("missing, unexpected and wrongly shaped keys are listed; nothing is written", () => {
    const out = join(dir, "bad.pt");
    const r = exportDino(["--arch", "vit_small", "--checkpoint", join(dir, "bad.pth"), "--out", out]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("missing keys (1): blocks.3.attn.qkv.weight");
    expect(r.stderr).toMatch(/unexpected keys \(2\): .*blocks\.3\.attn\.qkv\.weight_renamed/);
    expect(r.stderr).toContain("extra.thing");
    expect(r.stderr).toContain("norm.bias: checkpoint (385,) vs model (384,)");
    expect(spawnSync("test", ["-e", out]).status).toBe(1);
  });

  it("a ViT-S checkpoint given as --arch vit_base names the likely architecture", () => {
    const r = exportDino(["--arch", "vit_base", "--checkpoint", join(dir, "vits16.pth"), "--out", join(dir, "x.pt")]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("wrong shapes (150)");
    expect(r.stderr).toContain("hint: pos_embed width suggests --arch vit_small");
  });

  it("a training checkpoint without --checkpoint-key, and an unreadable file", () => {
    const r = exportDino(["--arch", "vit_small", "--checkpoint", join(dir, "full.pth"), "--out", join(dir, "x.pt")]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/not a plain state_dict.*teacher/);
    const missing = exportDino(["--arch", "vit_small", "--checkpoint", join(dir, "nope.pth"), "--out", join(dir, "x.pt")]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain("cannot read checkpoint");
  });

  it("--random-init needs --seed", () => {
    const r = exportDino(["--arch", "vit_small", "--random-init", "--out", join(dir, "x.pt")]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("--random-init needs --seed");
  });
});
