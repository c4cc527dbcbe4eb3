import type { CommandModule } from "yargs";
import { checkByteSize } from "../check.js";
import { StcnError } from "../errors.js";
import { checkOutputFolder } from "../io/fs-errors.js";
import { Stcn } from "../stcn/stcn.js";
import { segmentFolder } from "../stcn/segment.js";
import { segmentVideo } from "../video/segment.js";
import { withInterrupts } from "./signals.js";
import { createProgress, printJson, withJson } from "./common.js";

interface SegmentArgs {
  model: string;
  frames?: string;
  video?: string;
  "start-frame"?: number;
  "end-frame"?: number;
  every?: number;
  "out-video"?: string;
  "out-masks-video"?: string;
  mask?: string;
  masks?: string;
  out?: string;
  device: string;
  "top-k": number;
  "mem-every": number;
  size: number;
  half: boolean;
  "include-last": boolean;
  "resize-masks": boolean;
  "max-memory-frames": number;
  "memory-budget"?: string;
  optimization: "none" | "freeze" | "inference";
  progress: boolean;
  overwrite: boolean;
  quiet: boolean;
  json: boolean;
}

/**
 * `stcn segment`: propagates the first-frame mask through a folder of frames and writes one palette
 * PNG per frame (frame 0 included) with the input mask's palette (DAVIS palette otherwise).
 * `--video FILE` reads a video file instead (streamed through ffmpeg), with a frame range and
 * optional overlay / lossless label videos.
 */
export const segmentCommand: CommandModule<object, SegmentArgs> = {
  command: "segment",
  describe: "segment a video (folder of frames or video file) with STCN from a first-frame mask (one palette PNG per frame)",
  builder: (y) =>
    withJson(y)
      .option("model", { type: "string", demandOption: true, describe: "STCN TorchScript archive (torchscript/export_stcn.py)" })
      .option("frames", { type: "string", describe: "folder of frames (*.jpg|*.jpeg|*.png, sorted by name)" })
      .option("video", { type: "string", describe: "video file (any container/codec ffmpeg reads); frame i is written as %05d i" })
      .option("start-frame", { type: "number", describe: "--video: first frame (0-based; the mask is this frame's)" })
      .option("end-frame", { type: "number", describe: "--video: last frame, inclusive (default: the last)" })
      .option("every", { type: "number", describe: "--video: keep every N-th frame from --start-frame on" })
      .option("mask", { type: "string", describe: "first-frame mask (palette or greyscale PNG of object ids)" })
      .option("masks", { type: "string", describe: "folder of <frame>.png masks; new ids in a later mask join from that frame on" })
      .option("out", { type: "string", describe: "output folder (<frame>.png per frame); optional with --video and a video output" })
      .option("out-video", { type: "string", describe: "--video: overlay video (.mp4|.mov|.mkv, H.264 yuv420p, input frame rate)" })
      .option("out-masks-video", { type: "string", describe: "--video: lossless label video (.mkv, FFV1 gray)" })
      .option("device", { type: "string", default: "cpu", describe: "cpu, cuda or cuda:N" })
      .option("top-k", { type: "number", default: 20, describe: "top-k of the memory read" })
      .option("mem-every", { type: "number", default: 5, describe: "frames with index % N == 0 become memory" })
      .option("size", { type: "number", default: 480, describe: "working size: shorter side (0 = input resolution)" })
      .option("half", { type: "boolean", default: false, describe: "mixed precision: float16 on CUDA, bfloat16 on CPU" })
      .option("include-last", { type: "boolean", default: false, describe: "keep the latest frame in a temporary memory slot" })
      .option("resize-masks", { type: "boolean", default: false, describe: "accept masks of another size (nearest resize)" })
      .option("max-memory-frames", { type: "number", default: 0, describe: "cap on memory frames (0 = none; oldest non-first dropped)" })
      .option("memory-budget", {
        type: "string",
        describe: "cap on the memory bank's bytes, e.g. 512MiB or 2GiB (the oldest memory frames go first; frame 0, join frames and the newest are kept); 0 = none. Default: none for --frames (the official behaviour), 1GiB for --video",
      })
      .option("optimization", {
        choices: ["inference", "freeze", "none"] as const,
        default: "inference" as const,
        describe: "TorchScript optimization at load time",
      })
      .option("progress", { type: "boolean", default: true, describe: "progress on stderr: a bar on a terminal, plain lines otherwise" })
      .option("quiet", { type: "boolean", default: false, describe: "same as --no-progress" })
      .option("overwrite", { type: "boolean", default: false, describe: "write into a --out folder that already holds files" })
      .check((a) => {
        if (!a.mask && !a.masks) throw new StcnError("ERR_STCN_ARGUMENT", "give --mask FIRST.png and/or --masks DIR");
        if ((a.frames === undefined) === (a.video === undefined)) throw new StcnError("ERR_STCN_ARGUMENT", "give exactly one of --frames DIR and --video FILE");
        if (a.frames !== undefined) {
          for (const o of ["start-frame", "end-frame", "every", "out-video", "out-masks-video"] as const) {
            if (a[o] !== undefined) throw new StcnError("ERR_STCN_ARGUMENT", `--${o} needs --video`);
          }
          if (!a.out) throw new StcnError("ERR_STCN_ARGUMENT", "give --out DIR");
        } else if (!a.out && !a["out-video"] && !a["out-masks-video"]) {
          throw new StcnError("ERR_STCN_ARGUMENT", "give --out DIR, --out-video FILE and/or --out-masks-video FILE");
        }
        return true;
      }),
  handler: async (args) => {
    // --out must be writable (and empty unless --overwrite) before the model is even loaded.
    if (args.out) await checkOutputFolder(args.out, { overwrite: args.overwrite, name: "--out", keep: false });
    const model = await Stcn.load(args.model, { device: args.device, half: args.half, optimization: args.optimization });
    const bar = createProgress({ quiet: !args.progress || args.quiet });
    let started = false;
    const t0 = performance.now();
    try {
      const onFrame = (frame: { index: number }, total: number): void => {
        if (!started) {
          bar.start("segment: frames", total);
          started = true;
        }
        const seconds = (performance.now() - t0) / 1000;
        bar.update(frame.index + 1, `${((frame.index + 1) / seconds).toFixed(2)} FPS`);
      };
      const track = {
        topK: args["top-k"],
        memEvery: args["mem-every"],
        size: args.size,
        includeLast: args["include-last"],
        resizeMasks: args["resize-masks"],
        maxMemoryFrames: args["max-memory-frames"],
        ...(args["memory-budget"] !== undefined ? { memoryBudget: checkByteSize(args["memory-budget"], "--memory-budget") } : {}),
        ...(args.mask ? { mask: args.mask } : {}),
        ...(args.masks ? { masks: args.masks } : {}),
        overwrite: args.overwrite,
        onFrame,
      };
      let into: string;
      let result;
      if (args.video !== undefined) {
        const video = await withInterrupts((signal) => segmentVideo(model, {
          ...track,
          signal,
          video: args.video as string,
          ...(args.out ? { out: args.out } : {}),
          ...(args["out-video"] ? { outVideo: args["out-video"] } : {}),
          ...(args["out-masks-video"] ? { outMasksVideo: args["out-masks-video"] } : {}),
          ...(args["start-frame"] !== undefined ? { start: args["start-frame"] } : {}),
          ...(args["end-frame"] !== undefined ? { end: args["end-frame"] } : {}),
          ...(args.every !== undefined ? { every: args.every } : {}),
        }));
        into = [video.outputs.masks, video.outputs.video, video.outputs.masksVideo].filter((p) => p !== undefined).join(", ");
        result = video;
      } else {
        result = await withInterrupts((signal) => segmentFolder(model, { ...track, signal, frames: args.frames as string, out: args.out as string }));
        into = args.out as string;
      }
      bar.stop();
      if (args.json) {
        printJson("segment", {
          frames: result.frames,
          width: result.width,
          height: result.height,
          workingSize: result.workingSize,
          objectIds: result.objectIds,
          outputs: into.split(", "),
          computeSeconds: result.computeSeconds,
          fps: result.fps,
          totalSeconds: result.totalSeconds,
          endToEndFps: result.endToEndFps,
        });
        return;
      }
      console.log(
        `segmented ${result.frames} frames (${result.width}x${result.height}, working ${result.workingSize.width}x${result.workingSize.height}, ` +
          `${result.objectIds.length} object(s): ${result.objectIds.join(", ")}) into ${into}`,
      );
      console.log(
        `frames ${result.frames}  seconds ${result.computeSeconds.toFixed(3)}  FPS ${result.fps.toFixed(3)} (propagation, IO excluded)  ` +
          `end-to-end ${result.totalSeconds.toFixed(3)} s ${result.endToEndFps.toFixed(3)} FPS`,
      );
    } finally {
      bar.stop();
      model.dispose();
    }
  },
};
