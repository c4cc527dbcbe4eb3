/**
 * `stcn annotate`: first-frame object masks from a detector (Mask R-CNN, PointRend: matched to the
 * GT objects by box distance as the study did, or every detection with --no-gt) or without any label
 * (LOST on DINO keys, optionally refined by the dense CRF). The method bodies live in
 * ts/annotators/detector.ts and ts/annotators/lost.ts; this file only dispatches.
 */
import type { CommandModule } from "yargs";
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
  frames: string;
  out: string;
  device: string;
  json: boolean;
  as: "mask" | "box";
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
      .options({ ...lostAnnotateOptions, ...detectorAnnotateOptions })
      .option("method", { choices: METHODS, demandOption: true, describe: "annotation method" })
      .option("model", { type: "string", demandOption: true, describe: "TorchScript model: detector (stcn export maskrcnn|pointrend) or DINO (stcn export dino)" })
      .option("frames", { type: "string", demandOption: true, describe: "frames folder (frame 0 = first image sorted by name) or one image" })
      .option("out", { type: "string", demandOption: true, describe: "output first-frame label PNG (palette)" })
      .option("as", {
        choices: ["mask", "box"] as const,
        default: "mask",
        describe: "mask: instance masks; box: each object's box filled as boxes-to-davis fills boxes (maskrcnn/pointrend: the matched detection's box; lost: LOST's box)",
      })
      .group(["gt-mask", "box-rule", "gt", "score-threshold", "channel-order", "mask-threshold"], "maskrcnn / pointrend:")
      .group(["objects", "feature", "k-patches"], "lost / lost-crf:")
      .group(["gt-prob", "crf-iterations", "sxy-gaussian", "compat-gaussian", "sxy-bilateral", "srgb", "compat-bilateral", "threads"], "lost-crf (CRF):")
      .example("$0 annotate --method maskrcnn --model maskrcnn.pt --frames JPEGImages/480p/judo --gt-mask Annotations/480p/judo/00000.png --out judo-maskrcnn.png", "")
      .example("$0 annotate --method lost-crf --model dino_vitb16.pt --frames JPEGImages/480p/judo --out judo-lost.png", ""),
  handler: async (raw) => {
    const a = raw as unknown as AnnotateArgs;
    const common = { model: a.model, frames: a.frames, out: a.out, device: a.device, json: a.json, as: a.as };
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
  },
};
