#!/usr/bin/env node
/**
 * Writes generated clips as a DAVIS root (used by torchscript/train_demo.py for its training and
 * held-out clips, so Python trains on exactly the generator the demo runs):
 *
 *   node dist/cli/generate-clips.js --out ROOT --seeds 1000-1239 [--set train] [--frames 30]
 *                                  [--width 160] [--height 128] [--objects K]
 *
 * `--seeds` takes a range A-B (inclusive) or a comma list. Prints one JSON line per clip
 * ({"name","seed","objects","distractors"}) and exits 0; a wrong argument prints one line and exits 1.
 */
import { isStcnError, StcnError } from "../errors.js";
import { generateDavisRoot } from "../demo/generator.js";
import { parseSeeds } from "../demo/seeds.js";

async function main(argv: string[]): Promise<void> {
  const args = new Map<string, string>();
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i] as string;
    const value = argv[i + 1];
    if (!key.startsWith("--") || value === undefined) throw new StcnError("ERR_STCN_ARGUMENT", `expected --name value pairs, got "${key}"`);
    args.set(key.slice(2), value);
  }
  const known = new Set(["out", "seeds", "set", "frames", "width", "height", "objects"]);
  for (const key of args.keys()) if (!known.has(key)) throw new StcnError("ERR_STCN_ARGUMENT", `unknown option --${key}`);
  const out = args.get("out");
  const seeds = args.get("seeds");
  if (!out || !seeds) throw new StcnError("ERR_STCN_ARGUMENT", "--out ROOT and --seeds A-B are required");
  const num = (name: string): number | undefined => (args.has(name) ? Number(args.get(name)) : undefined);
  await generateDavisRoot({
    root: out,
    seeds: parseSeeds(seeds),
    set: args.get("set") ?? "val",
    frames: num("frames"),
    width: num("width"),
    height: num("height"),
    objects: num("objects"),
    onClip: (clip) =>
      console.log(JSON.stringify({ name: clip.name, seed: clip.seed, objects: clip.objects, distractors: clip.distractors })),
  });
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (isStcnError(error)) console.error(`generate: ${error.message} [${error.code}]`);
  else console.error(`generate: ${(error as Error).stack ?? String(error)}`);
  process.exit(1);
});
