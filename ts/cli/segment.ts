import cliProgress from "cli-progress";
import type { CommandModule } from "yargs";
import { StcnError } from "../errors.js";
import { Stcn } from "../stcn/stcn.js";
import { segmentFolder } from "../stcn/segment.js";

interface SegmentArgs {
  model: string;
  frames: string;
  mask?: string;
  masks?: string;
  out: string;
  device: string;
  "top-k": number;
  "mem-every": number;
  size: number;
  half: boolean;
  "include-last": boolean;
  "resize-masks": boolean;
  "max-memory-frames": number;
  optimization: "none" | "freeze" | "inference";
  progress: boolean;
}

/**
 * `stcn segment`: propagates the first-frame mask through a folder of frames and writes one palette
 * PNG per frame (frame 0 included) with the input mask's palette (DAVIS palette otherwise).
 */
export const segmentCommand: CommandModule<object, SegmentArgs> = {
  command: "segment",
  describe: "segment a video folder with STCN from a first-frame mask (one palette PNG per frame)",
  builder: (y) =>
    y
      .option("model", { type: "string", demandOption: true, describe: "STCN TorchScript archive (torchscript/export_stcn.py)" })
      .option("frames", { type: "string", demandOption: true, describe: "folder of frames (*.jpg|*.jpeg|*.png, sorted by name)" })
      .option("mask", { type: "string", describe: "first-frame mask (palette or greyscale PNG of object ids)" })
      .option("masks", { type: "string", describe: "folder of <frame>.png masks; new ids in a later mask join from that frame on" })
      .option("out", { type: "string", demandOption: true, describe: "output folder (<frame>.png per frame)" })
      .option("device", { type: "string", default: "cpu", describe: "cpu, cuda or cuda:N" })
      .option("top-k", { type: "number", default: 20, describe: "top-k of the memory read" })
      .option("mem-every", { type: "number", default: 5, describe: "frames with index % N == 0 become memory" })
      .option("size", { type: "number", default: 480, describe: "working size: shorter side (0 = input resolution)" })
      .option("half", { type: "boolean", default: false, describe: "mixed precision: float16 on CUDA, bfloat16 on CPU" })
      .option("include-last", { type: "boolean", default: false, describe: "keep the latest frame in a temporary memory slot" })
      .option("resize-masks", { type: "boolean", default: false, describe: "accept masks of another size (nearest resize)" })
      .option("max-memory-frames", { type: "number", default: 0, describe: "cap on memory frames (0 = none; oldest non-first dropped)" })
      .option("optimization", {
        choices: ["inference", "freeze", "none"] as const,
        default: "inference" as const,
        describe: "TorchScript optimization at load time",
      })
      .option("progress", { type: "boolean", default: true, describe: "show a progress bar (stderr)" })
      .check((a) => {
        if (!a.mask && !a.masks) throw new StcnError("ERR_STCN_ARGUMENT", "give --mask FIRST.png and/or --masks DIR");
        return true;
      }),
  handler: async (args) => {
    const model = await Stcn.load(args.model, { device: args.device, half: args.half, optimization: args.optimization });
    const bar = args.progress
      ? new cliProgress.SingleBar(
          { format: "segment |{bar}| {value}/{total} frames | {fps} FPS", stream: process.stderr, hideCursor: true, clearOnComplete: false },
          cliProgress.Presets.shades_classic,
        )
      : undefined;
    let started = false;
    const t0 = performance.now();
    try {
      const result = await segmentFolder(model, {
        frames: args.frames,
        out: args.out,
        topK: args["top-k"],
        memEvery: args["mem-every"],
        size: args.size,
        includeLast: args["include-last"],
        resizeMasks: args["resize-masks"],
        maxMemoryFrames: args["max-memory-frames"],
        ...(args.mask ? { mask: args.mask } : {}),
        ...(args.masks ? { masks: args.masks } : {}),
        onFrame: (frame, total) => {
          if (!bar) return;
          if (!started) {
            bar.start(total, 0, { fps: "-" });
            started = true;
          }
          const seconds = (performance.now() - t0) / 1000;
          bar.update(frame.index + 1, { fps: ((frame.index + 1) / seconds).toFixed(2) });
        },
      });
      bar?.stop();
      console.log(
        `segmented ${result.frames} frames (${result.width}x${result.height}, working ${result.workingSize.width}x${result.workingSize.height}, ` +
          `${result.objectIds.length} object(s): ${result.objectIds.join(", ")}) into ${args.out}`,
      );
      console.log(
        `frames ${result.frames}  seconds ${result.computeSeconds.toFixed(3)}  FPS ${result.fps.toFixed(3)} (propagation, IO excluded)  ` +
          `end-to-end ${result.totalSeconds.toFixed(3)} s ${result.endToEndFps.toFixed(3)} FPS`,
      );
    } finally {
      bar?.stop();
      model.dispose();
    }
  },
};
