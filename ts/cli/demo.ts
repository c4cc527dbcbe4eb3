import type { CommandModule } from "yargs";
import { formatDavisTables } from "../davis/evaluate.js";
import { DEMO_DEFAULT_SEED, DEMO_MODEL_PATH, DEMO_SIZE, demoSummary, runDemo } from "../demo/demo.js";
import { parseSeeds } from "../demo/seeds.js";
import { ensureWritableDir } from "../io/fs-errors.js";
import { createProgress, printJson, withJson } from "./common.js";

interface DemoArgs {
  out: string;
  model: string;
  seed: number;
  seeds?: string;
  length: number;
  objects?: number;
  frames?: string;
  video?: string;
  mask?: string;
  size: number;
  "top-k": number;
  "mem-every"?: number;
  device: string;
  json: boolean;
  quiet: boolean;
}

/**
 * `stcn demo`: generates a short procedural video, segments its objects with the bundled demo STCN,
 * writes frames, masks, overlays and a contact sheet, prints the DAVIS J&F table against the video's
 * known masks and ends with `demo: J&F 0.xxx J 0.xxx F 0.xxx FPS n.n`.
 * `--frames DIR --mask FIRST.png` (or `--video FILE --mask FIRST.png`) runs the demo model on your own
 * clip instead (no J&F then).
 */
export const demoCommand: CommandModule<object, DemoArgs> = {
  command: "demo",
  describe: "segment a generated video with the bundled demo model and score it (or --frames/--mask: your clip)",
  builder: (y) =>
    withJson(y)
      .option("out", { type: "string", default: "stcn-demo", describe: "output folder" })
      .option("model", { type: "string", default: DEMO_MODEL_PATH, defaultDescription: "the bundled models/demo/stcn-demo.pt", describe: "STCN TorchScript archive" })
      .option("seed", { type: "number", default: DEMO_DEFAULT_SEED, describe: "seed of the generated clip" })
      .option("seeds", { type: "string", describe: "several generated clips: A-B or a comma list (overrides --seed)" })
      .option("length", { type: "number", default: 30, describe: "frames per generated clip" })
      .option("objects", { type: "number", describe: "objects per generated clip (1-4; default from the seed)" })
      .option("frames", { type: "string", describe: "your clip: folder of frames (*.jpg|*.png, sorted by name)" })
      .option("video", { type: "string", describe: "your clip as a video file (mp4, webm, mov, mkv, ...): writes overlay.mp4" })
      .option("mask", { type: "string", describe: "your clip: first-frame mask (palette or greyscale PNG)" })
      .option("size", { type: "number", default: DEMO_SIZE, describe: "working size, shorter side (0 = input size)" })
      .option("top-k", { type: "number", default: 20, describe: "top-k of the memory read" })
      .option("mem-every", { type: "number", describe: "frames with index % N == 0 become memory (default: the model's recommendation, else 5)" })
      .option("device", { type: "string", default: "cpu", describe: "cpu, cuda or cuda:N" })
      .option("quiet", { type: "boolean", default: false, describe: "no progress; print only the summary line" }),
  handler: async (args) => {
    const progress = createProgress({ quiet: args.quiet });
    await ensureWritableDir(args.out, "--out", false);
    const result = await runDemo({
      out: args.out,
      model: args.model,
      seeds: args.seeds !== undefined ? parseSeeds(args.seeds) : [args.seed],
      length: args.length,
      objects: args.objects,
      frames: args.frames,
      video: args.video,
      mask: args.mask,
      size: args.size,
      topK: args["top-k"],
      memEvery: args["mem-every"],
      device: args.device,
      onProgress: (line) => progress.line(`demo: ${line}`),
    });
    progress.stop();
    if (args.json) {
      printJson("demo", {
        out: result.out,
        model: result.model,
        clips: result.clips,
        global: result.evaluation?.global ?? null,
        objects: result.evaluation?.objects.map((o) => ({ name: o.name, jMean: o.jMean, fMean: o.fMean })) ?? [],
        fps: result.fps,
        memEvery: result.memEvery,
        contactSheet: result.contactSheet,
      });
      return;
    }
    const log = args.quiet ? () => undefined : (line: string) => console.log(line);
    log(`model ${result.model} (mem-every ${result.memEvery}, top-k ${args["top-k"]}, working size ${args.size})`);
    if (result.evaluation) log(formatDavisTables(result.evaluation));
    else log("your clip has no ground truth: J&F is not computed");
    if (args.video) log(`wrote ${result.out}/masks/clip/, ${result.out}/overlay.mp4 and ${result.contactSheet}`);
    else log(`wrote ${result.out}/{frames,${result.evaluation ? "masks-gt," : ""}masks,overlays}/ and ${result.contactSheet}`);
    console.log(demoSummary(result));
  },
};
