/**
 * `stcn annotate`: first-frame object masks from a detector (Mask R-CNN, PointRend: matched to the
 * GT objects by box distance as the study did, or every detection with --no-gt) or without any label
 * (LOST on DINO keys, optionally refined by the dense CRF). The work is done by the library
 * (`detectorAnnotateFile` in ts/annotators/detector.ts, `lostAnnotateFile` in ts/annotators/lost.ts);
 * this file maps the options and prints.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import type { CommandModule, Options } from "yargs";
import { StcnError } from "../errors.js";
import { encodeRgb } from "../io/image.js";
import { writeFileAtomic } from "../io/atomic.js";
import { readVideoFrame } from "../video/decode.js";
import {
  detectorAnnotateFile,
  DETECTOR_MASK_THRESHOLD,
  type BoxRule,
  type ChannelOrder,
  type DetectorAnnotateFileResult,
} from "../annotators/detector.js";
import { createProgress, printJson, shownDefault, type Progress } from "./common.js";
import { LOST_CRF_DEFAULTS, lostAnnotateFile, type LostAnnotateFileResult, type LostCrfOptions, type LostFeature } from "../annotators/lost.js";
import { checkOutputFile } from "../io/fs-errors.js";
import { withInterrupts } from "./signals.js";

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
  quiet: boolean;
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

/** The options of `stcn annotate` (yargs), camel-cased in the handler as {@link AnnotateArgs}. */
export const annotateOptions = {
  method: { choices: METHODS, demandOption: true, describe: "annotation method" },
  model: { type: "string", demandOption: true, describe: "TorchScript model: detector (stcn export maskrcnn|pointrend) or DINO (stcn export dino)" },
  frames: { type: "string", demandOption: true, describe: "frames folder (frame 0 = first image sorted by name) or one image" },
  out: { type: "string", demandOption: true, describe: "output first-frame label PNG (palette)" },
  device: { type: "string", default: "cpu", describe: "cpu, cuda or cuda:N" },
  json: { type: "boolean", default: false, describe: 'print one JSON document on stdout: {"stcn", "command", "result"} (docs/cli.md)' },
  quiet: { type: "boolean", default: false, describe: "no progress on stderr" },
  as: {
    choices: ["mask", "box"] as const,
    default: "mask",
    describe: "mask: instance masks; box: each object's box filled as boxes-to-davis fills boxes (maskrcnn/pointrend: the matched detection's box; lost: LOST's box)",
  },
  // maskrcnn / pointrend
  "gt-mask": { type: "string", describe: "GT first-frame mask PNG (object ids and boxes to match); omit with --no-gt" },
  "box-rule": { choices: ["study", "exact"] as const, default: "study", describe: "GT box rule: the study's first-run rule or the tight box" },
  // Declared as "gt" (default true) so that `--no-gt` works: yargs parses any `--no-X` as X = false, so
  // an option literally named "no-gt" could never be set.
  gt: {
    type: "boolean",
    default: true,
    describe: "match the GT objects of --gt-mask; --no-gt: keep every detection scoring >= --score-threshold as its own object",
  },
  "score-threshold": {
    type: "number",
    describe: "GT mode: candidate floor (default 0.01 Mask R-CNN, 0 PointRend, as the study); --no-gt: keep floor (default 0.5)",
  },
  "channel-order": {
    choices: ["rgb", "bgr"] as const,
    default: "rgb",
    describe: "channel order fed to the model (the study fed RGB to both; PointRend/detectron2 expects bgr)",
  },
  "mask-threshold": { type: "number", default: DETECTOR_MASK_THRESHOLD, describe: "soft mask threshold" },
  // lost / lost-crf
  objects: { type: "number", default: 1, describe: "objects to find (LOST repeated on the remaining patches); 1 = the published LOST" },
  feature: { type: "string", choices: ["k", "q", "v"], default: "k", describe: "last-block DINO features compared by LOST" },
  "k-patches": { type: "number", default: 100, describe: "LOST candidate patches (lowest degree)" },
  "gt-prob": { type: "number", default: LOST_CRF_DEFAULTS.gtProb, defaultDescription: shownDefault(LOST_CRF_DEFAULTS.gtProb), describe: "probability of the LOST label in the CRF unary" },
  "crf-iterations": { type: "number", default: LOST_CRF_DEFAULTS.iterations, describe: "mean-field iterations" },
  "sxy-gaussian": { type: "number", default: LOST_CRF_DEFAULTS.sxyGaussian, describe: "Gaussian (smoothness) kernel sxy, pixels" },
  "compat-gaussian": { type: "number", default: LOST_CRF_DEFAULTS.compatGaussian, describe: "Gaussian kernel Potts weight" },
  "sxy-bilateral": { type: "number", default: LOST_CRF_DEFAULTS.sxyBilateral, describe: "bilateral (appearance) kernel sxy, pixels" },
  srgb: { type: "number", default: LOST_CRF_DEFAULTS.srgb, describe: "bilateral colour standard deviation" },
  "compat-bilateral": { type: "number", default: LOST_CRF_DEFAULTS.compatBilateral, describe: "bilateral kernel Potts weight" },
  threads: { type: "number", describe: "CRF worker threads (default: STCN_NUM_THREADS / cores)" },
} as const satisfies Record<string, Options>;

function printDetector(method: string, result: DetectorAnnotateFileResult, json: boolean): void {
  const done = result;
  if (json) {
    printJson("annotate", { frame: done.frame, out: done.out, method, detections: result.detections, detectorMs: result.detectorMs, objects: result.objects });
    return;
  }
  console.log(`${method}: ${result.detections} detection(s) on ${done.frame} (${result.width}x${result.height})`);
  for (const o of result.objects) {
    console.log(
      o.detection === null
        ? `  object ${o.id}: no detection (empty)`
        : `  object ${o.id}: detection ${o.detection} (label ${o.label}, score ${o.score?.toFixed(4)}` +
            (o.distance === null ? "" : `, box distance ${o.distance.toFixed(2)}`) +
            `), ${o.pixels} px`,
    );
  }
  console.log(`detector time: ${result.detectorMs.toFixed(1)} ms (frame 0; not counted in propagation FPS, as in the study)`);
  console.log(`wrote ${done.out}`);
}

function printLost(result: LostAnnotateFileResult, json: boolean): void {
  const done = result;
  const summary = {
    method: done.method,
    frame: done.frame,
    out: done.out,
    width: result.width,
    height: result.height,
    grid: [result.rows, result.cols],
    objects: result.objects.map((o) => ({ id: o.id, seed: [o.seedRow, o.seedCol], patches: o.area, box: o.box })),
    timings: { ...result.timings, ...(result.crfTiming ? { crfMs: result.crfTiming.totalMs } : {}) },
  };
  if (json) {
    printJson("annotate", summary);
    return;
  }
  const parts = summary.objects.map((o) => `object ${o.id}: seed (${o.seed.join(",")}), ${o.patches} patches, box [${o.box.join(",")}]`);
  console.log(
    `${done.method}: ${done.frame} -> ${done.out} (${result.width}x${result.height}, grid ${result.rows}x${result.cols}); ${parts.join("; ")}; ` +
      `DINO+Gram ${result.timings.featuresMs.toFixed(0)} ms, graph ${result.timings.graphMs.toFixed(0)} ms` +
      (result.crfTiming ? `, CRF ${result.crfTiming.totalMs.toFixed(0)} ms` : ""),
  );
}

/** yargs validates the options (choices, demanded ones); the handler reads them camel-cased as {@link AnnotateArgs}. */
export const annotateCommand: CommandModule = {
  command: "annotate",
  describe: "first-frame masks from a detector (matched to --gt-mask boxes, or --no-gt) or from LOST on DINO (no labels)",
  builder: (y) =>
    y
      // --frames or --video: neither is demanded by itself.
      .options({ ...annotateOptions, frames: { type: "string", describe: "frames folder (frame 0 = first image sorted by name) or one image" } })
      .option("video", { type: "string", describe: "video file instead of --frames: annotates frame --start-frame (default 0)" })
      .option("start-frame", { type: "number", describe: "--video: the frame to annotate (the one `segment --video --start-frame` starts from)" })
      .check((a) => {
        if ((a.frames === undefined) === (a.video === undefined)) throw new StcnError("ERR_STCN_ARGUMENT", "give exactly one of --frames and --video");
        if (a["start-frame"] !== undefined && a.video === undefined) throw new StcnError("ERR_STCN_ARGUMENT", "--start-frame needs --video");
        return true;
      })
      .group(["gt-mask", "box-rule", "gt", "score-threshold", "channel-order", "mask-threshold"], "maskrcnn / pointrend:")
      .group(["objects", "feature", "k-patches"], "lost / lost-crf:")
      .group(["gt-prob", "crf-iterations", "sxy-gaussian", "compat-gaussian", "sxy-bilateral", "srgb", "compat-bilateral", "threads"], "lost-crf (CRF):")
      .example("$0 annotate --method maskrcnn --model maskrcnn.pt --frames JPEGImages/480p/judo --gt-mask Annotations/480p/judo/00000.png --out judo-maskrcnn.png", "")
      .example("$0 annotate --method lost-crf --model dino_vitb16.pt --frames JPEGImages/480p/judo --out judo-lost.png", ""),
  handler: async (raw) => {
    const a = raw as unknown as AnnotateArgs;
    await checkOutputFile(a.out, "--out");
    const progress = createProgress({ quiet: a.quiet });
    // SIGINT / SIGTERM abort the annotation at its next stage: no mask is written, exit 130 / 143.
    await withInterrupts(async (signal) => {
      if (a.video === undefined) return annotate(a, a.frames as string, progress, signal);
      // The annotators read one image file: the video's frame goes to a private temporary PNG.
      progress.start(`annotate: reading frame ${a.startFrame ?? 0} of ${a.video}`);
      const frame = await readVideoFrame(a.video, a.startFrame ?? 0, { signal });
      const tmp = await mkdtemp(join(tmpdir(), "stcn-annotate-"));
      try {
        // Named after the video and frame, so the annotator's messages say which frame it read.
        const path = join(tmp, `${basename(a.video)}.frame-${String(frame.index).padStart(5, "0")}.png`);
        await writeFileAtomic(path, await encodeRgb(frame));
        await annotate(a, path, progress, signal);
      } finally {
        await rm(tmp, { recursive: true, force: true });
      }
    }, `no mask was written to ${a.out}`);
  },
};

/** Runs the chosen method on one frame (a folder or an image file) and prints its summary. */
async function annotate(a: AnnotateArgs, frames: string, progress: Progress, signal: AbortSignal): Promise<void> {
  progress.start(`annotate: ${a.method} on ${frames} (loading ${a.model}, running on ${a.device})`);
  const common = { model: a.model, frames, out: a.out, device: a.device, as: a.as, signal };
  if (a.method === "maskrcnn" || a.method === "pointrend") {
    if (a.gt !== false && !a.gtMask) throw new StcnError("ERR_STCN_ARGUMENT", "--gt-mask is required (or pass --no-gt to keep all detections)");
    const done = await detectorAnnotateFile({
      ...common,
      method: a.method,
      noGt: a.gt === false,
      boxRule: a.boxRule,
      channelOrder: a.channelOrder,
      maskThreshold: a.maskThreshold,
      onWarning: (m) => console.warn(`stcn: warning: ${m}`),
      ...(a.gtMask !== undefined ? { gtMask: a.gtMask } : {}),
      ...(a.scoreThreshold !== undefined ? { scoreThreshold: a.scoreThreshold } : {}),
    });
    progress.stop();
    printDetector(a.method, done, a.json);
    return;
  }
  const crf: LostCrfOptions = {
    gtProb: a.gtProb,
    iterations: a.crfIterations,
    sxyGaussian: a.sxyGaussian,
    compatGaussian: a.compatGaussian,
    sxyBilateral: a.sxyBilateral,
    srgb: a.srgb,
    compatBilateral: a.compatBilateral,
    ...(a.threads !== undefined ? { threads: a.threads } : {}),
  };
  const done = await lostAnnotateFile({ ...common, method: a.method, objects: a.objects, feature: a.feature, kPatches: a.kPatches, crf });
  progress.stop();
  printLost(done, a.json);
}
