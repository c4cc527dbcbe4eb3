import type { CommandModule } from "yargs";
import { StcnError } from "../errors.js";
import { boxesToDavis } from "../davis/boxes-to-davis.js";
import { printJson, withJson } from "./common.js";

interface BoxesArgs {
  annotations: string;
  out: string;
  frames?: string;
  size?: string;
  videos?: string;
  set: string;
  overwrite: boolean;
  json: boolean;
}

/**
 * `stcn boxes-to-davis`: Something-Else `annotations.json` boxes -> a DAVIS-like root of 480p box
 * masks (the notebook's fill order and PIL-nearest resize), ready for `stcn evaluate`.
 */
export const boxesToDavisCommand: CommandModule<object, BoxesArgs> = {
  command: "boxes-to-davis",
  describe: "Something-Else annotations.json boxes -> DAVIS-like root of 480p box masks",
  builder: (y) =>
    withJson(y)
      .option("annotations", { type: "string", demandOption: true, describe: "Something-Else annotations.json" })
      .option("out", { type: "string", demandOption: true, describe: "output DAVIS-like root" })
      .option("frames", { type: "string", describe: "original frames folder: <frames>/<video>/<NNNN>.jpg (sizes and 480p JPEGs)" })
      .option("size", { type: "string", describe: "original frame size WxH for all videos (without --frames; JPEGs are grey placeholders)" })
      .option("videos", { type: "string", describe: "comma-separated video ids (default: all, in file order)" })
      .option("set", { type: "string", default: "val", describe: "ImageSets/2017/<set>.txt to write" })
      .option("overwrite", { type: "boolean", default: false, describe: "write into a non-empty output folder" }),
  handler: async (args) => {
    let size: { width: number; height: number } | undefined;
    if (args.size !== undefined) {
      const m = /^(\d+)x(\d+)$/.exec(String(args.size));
      if (!m) throw new StcnError("ERR_STCN_ARGUMENT", `--size must look like 427x240, got "${String(args.size)}"`);
      size = { width: Number(m[1]), height: Number(m[2]) };
    }
    if (!args.frames && !size) throw new StcnError("ERR_STCN_ARGUMENT", "give --frames (original frames) or --size WxH");
    const videos = args.videos === undefined ? undefined : String(args.videos).split(",").map((v) => v.trim()).filter(Boolean);
    const result = await boxesToDavis({
      annotations: args.annotations,
      out: args.out,
      frames: args.frames,
      size: args.frames ? undefined : size,
      videos,
      set: args.set,
      overwrite: args.overwrite,
    });
    if (args.json) {
      printJson("boxes-to-davis", result);
      return;
    }
    for (const v of result.videos) {
      console.log(`${v.video}: ${v.frames} box mask(s), ${v.originalWidth}x${v.originalHeight} -> ${v.width}x${v.height}`);
    }
    const total = result.videos.reduce((n, v) => n + v.frames, 0);
    console.log(`Wrote ${total} frame(s) of ${result.videos.length} video(s) to ${result.root} (ImageSets/2017/${result.set}.txt)`);
    if (result.placeholders) console.log("JPEGImages are uniform grey placeholders (no --frames given): fine for evaluation, not for propagation");
  },
};
