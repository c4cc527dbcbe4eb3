/**
 * `stcn annotate`: first-frame object masks from a detector (Mask R-CNN, PointRend: matched to the
 * GT objects by box distance as the study did, or every detection with --no-gt) or without any label
 * (LOST on DINO keys, optionally refined by the dense CRF). The method bodies live in
 * ts/annotators/detector.ts and ts/annotators/lost.ts; this file only dispatches.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import type { CommandModule } from "yargs";
import { StcnError } from "../errors.js";
import { encodeRgb } from "../io/image.js";
import { writeFileAtomic } from "../io/atomic.js";
import { readVideoFrame } from "../video/decode.js";
import {
  detectorAnnotateOptions,
  runDetectorAnnotate,
  type BoxRule,
  type ChannelOrder,
} from "../annotators/detector.js";
import { lostAnnotateOptions, runLostAnnotate, type LostFeature } from "../annotators/lost.js";

const METHODS = ["maskrcnn", "pointrend", "lost", "lost-crf"] as const;
type AnnotateMethod = (typeof METHODS)[number];

interface AnnotateArgs {
  method: AnnotateMethod;
  model: string;
  frames?: string;
  video?: string;
  startFrame?: number;
  out: string;
  device: string;
  json: boolean;
  // detectors
  gtMask?: string;
  boxRule: BoxRule;
  /** `--no-gt` sets this false (yargs negation). */
  gt: boolean;
  scoreThreshold?: number;
  channelOrder: ChannelOrder;
  maskThreshold: number;
  // LOST / CRF
  objects: number;
  feature: LostFeature;
  kPatches: number;
  gtProb: number;
  crfIterations: number;
  sxyGaussian: number;
  compatGaussian: number;
  sxyBilateral: number;
  srgb: number;
  compatBilateral: number;
  threads?: number;
}

/** yargs validates the options (choices, demanded ones); the handler reads them camel-cased as {@link AnnotateArgs}. */
export const annotateCommand: CommandModule = {
  command: "annotate",
  describe: "first-frame masks: --method maskrcnn|pointrend (matched to --gt-mask boxes, or --no-gt) | lost | lost-crf",
  builder: (y) =>
    y
      // --frames or --video: neither is demanded by itself.
      .options({ ...lostAnnotateOptions, ...detectorAnnotateOptions, frames: { type: "string", describe: "frames folder (frame 0 = first image sorted by name) or one image" } })
      .option("method", { choices: METHODS, demandOption: true, describe: "annotation method" })
      .option("model", { type: "string", demandOption: true, describe: "TorchScript model: detector (stcn export maskrcnn|pointrend) or DINO (stcn export dino)" })
      .option("video", { type: "string", describe: "video file instead of --frames: annotates frame --start-frame (default 0)" })
      .option("start-frame", { type: "number", describe: "--video: the frame to annotate (the one `segment --video --start-frame` starts from)" })
      .check((a) => {
        if ((a.frames === undefined) === (a.video === undefined)) throw new StcnError("ERR_STCN_ARGUMENT", "give exactly one of --frames and --video");
        if (a["start-frame"] !== undefined && a.video === undefined) throw new StcnError("ERR_STCN_ARGUMENT", "--start-frame needs --video");
        return true;
      })
      .option("out", { type: "string", demandOption: true, describe: "output first-frame label PNG (palette)" })
      .group(["gt-mask", "box-rule", "gt", "score-threshold", "channel-order", "mask-threshold"], "maskrcnn / pointrend:")
      .group(["objects", "feature", "k-patches"], "lost / lost-crf:")
      .group(["gt-prob", "crf-iterations", "sxy-gaussian", "compat-gaussian", "sxy-bilateral", "srgb", "compat-bilateral", "threads"], "lost-crf (CRF):")
      .example("$0 annotate --method maskrcnn --model maskrcnn.pt --frames JPEGImages/480p/judo --gt-mask Annotations/480p/judo/00000.png --out judo-maskrcnn.png", "")
      .example("$0 annotate --method lost-crf --model dino_vitb16.pt --frames JPEGImages/480p/judo --out judo-lost.png", ""),
  handler: async (raw) => {
    const a = raw as unknown as AnnotateArgs;
    if (a.video === undefined) return annotate(a, a.frames as string);
    // The annotators read one image file: the video's frame goes to a private temporary PNG.
    const frame = await readVideoFrame(a.video, a.startFrame ?? 0);
    const tmp = await mkdtemp(join(tmpdir(), "stcn-annotate-"));
    try {
      // Named after the video and frame, so the annotator's messages say which frame it read.
      const path = join(tmp, `${basename(a.video)}.frame-${String(frame.index).padStart(5, "0")}.png`);
      await writeFileAtomic(path, await encodeRgb(frame));
      await annotate(a, path);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  },
};

/** Runs the chosen method on one frame (a folder or an image file). */
async function annotate(a: AnnotateArgs, frames: string): Promise<void> {
  const common = { model: a.model, frames, out: a.out, device: a.device, json: a.json };
  if (a.method === "maskrcnn" || a.method === "pointrend") {
    await runDetectorAnnotate({
      ...common,
      method: a.method,
      noGt: a.gt === false,
      boxRule: a.boxRule,
      channelOrder: a.channelOrder,
      maskThreshold: a.maskThreshold,
      ...(a.gtMask !== undefined ? { gtMask: a.gtMask } : {}),
      ...(a.scoreThreshold !== undefined ? { scoreThreshold: a.scoreThreshold } : {}),
    });
    return;
  }
  await runLostAnnotate({
    ...common,
    method: a.method,
    objects: a.objects,
    feature: a.feature,
    kPatches: a.kPatches,
    gtProb: a.gtProb,
    crfIterations: a.crfIterations,
    sxyGaussian: a.sxyGaussian,
    compatGaussian: a.compatGaussian,
    sxyBilateral: a.sxyBilateral,
    srgb: a.srgb,
    compatBilateral: a.compatBilateral,
    ...(a.threads !== undefined ? { threads: a.threads } : {}),
  });
}

