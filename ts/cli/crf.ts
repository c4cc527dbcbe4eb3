import type { CommandModule } from "yargs";
import { type CrfUnary, denseCrf, unaryFromLabels } from "../crf.js";
import { StcnError, isStcnError } from "../errors.js";
import { writeFileAtomic } from "../io/atomic.js";
import { readRgb } from "../io/image.js";
import { encodeGreyPng, readLabelPng } from "../io/png.js";
import { checkOutputFile } from "../io/fs-errors.js";
import { printJson, withJson } from "./common.js";

interface CrfArgs {
  image: string;
  mask: string;
  "n-labels"?: number;
  "gt-prob": number;
  "zero-unsure": boolean;
  "sxy-gaussian": number;
  "compat-gaussian": number;
  "sxy-bilateral": number;
  srgb: number;
  "compat-bilateral": number;
  iterations: number;
  out: string;
  "out-prob"?: string;
  timing: boolean;
  threads?: number;
  json: boolean;
}

/**
 * `stcn crf`: dense CRF on one image with a label map as unary (pydensecrf's unary_from_labels),
 * writes the refined label map (8-bit greyscale, the input's label space) and optionally Q.
 */
export const crfCommand: CommandModule<object, CrfArgs> = {
  command: "crf",
  describe: "refine a label map with a dense CRF (pydensecrf semantics); writes an 8-bit greyscale label PNG",
  builder: (y) =>
    withJson(y)
      .option("image", { type: "string", demandOption: true, describe: "RGB image (PNG/JPEG/...)" })
      .option("mask", { type: "string", demandOption: true, describe: "label map: indexed or 8-bit greyscale PNG" })
      .option("n-labels", { type: "number", describe: "number of labels (default: max label + 1, or max label with --zero-unsure)" })
      .option("gt-prob", { type: "number", default: 0.7, describe: "probability of the annotated label (unary_from_labels)" })
      .option("zero-unsure", { type: "boolean", default: false, describe: "label 0 means unsure; labels are 1..n-labels" })
      .option("sxy-gaussian", { type: "number", default: 3, describe: "Gaussian (smoothness) kernel sxy, pixels" })
      .option("compat-gaussian", { type: "number", default: 3, describe: "Gaussian kernel Potts weight" })
      .option("sxy-bilateral", { type: "number", default: 80, describe: "bilateral (appearance) kernel sxy, pixels" })
      .option("srgb", { type: "number", default: 13, describe: "bilateral kernel colour standard deviation" })
      .option("compat-bilateral", { type: "number", default: 10, describe: "bilateral kernel Potts weight" })
      .option("iterations", { type: "number", default: 5, describe: "mean-field iterations" })
      .option("out", { type: "string", demandOption: true, describe: "output label map (8-bit greyscale PNG)" })
      .option("out-prob", { type: "string", describe: "also write Q: raw little-endian float32 [n_labels, H, W]" })
      .option("timing", { type: "boolean", default: false, describe: "print crf_ms=<ms> (unary + lattice set-up + iterations)" })
      .option("threads", { type: "number", describe: "worker threads (default: STCN_NUM_THREADS / cores)" }),
  handler: async (args) => {
    checkOptions(args);
    await checkOutputFile(args.out, "--out");
    if (args["out-prob"]) await checkOutputFile(args["out-prob"], "--out-prob");
    const [image, mask] = await Promise.all([readRgb(args.image), readLabelPng(args.mask)]);
    if (image.width !== mask.width || image.height !== mask.height) {
      throw new StcnError(
        "ERR_STCN_INPUT",
        `mask ${args.mask} is ${mask.width}x${mask.height} but image ${args.image} is ${image.width}x${image.height}`,
      );
    }
    let maxLabel = 0;
    for (const v of mask.data) if (v > maxLabel) maxLabel = v;
    const zeroUnsure = args["zero-unsure"];
    const nLabels = args["n-labels"] ?? (zeroUnsure ? Math.max(maxLabel, 1) : maxLabel + 1);
    let unary: CrfUnary;
    try {
      unary = unaryFromLabels(mask.data, nLabels, args["gt-prob"], zeroUnsure);
    } catch (error) {
      if (isStcnError(error) && error.message.startsWith("label ")) {
        throw new StcnError("ERR_STCN_INPUT", `mask ${args.mask}: ${error.message.replace(/at index (\d+)/, (_, i: string) => `at (x ${Number(i) % mask.width}, y ${Math.floor(Number(i) / mask.width)})`)}`);
      }
      throw error;
    }
    const result = await denseCrf({
      image,
      unary,
      gaussian: { sxy: args["sxy-gaussian"], compat: args["compat-gaussian"] },
      bilateral: { sxy: args["sxy-bilateral"], srgb: args.srgb, compat: args["compat-bilateral"] },
      iterations: args.iterations,
      ...(args.threads !== undefined ? { threads: args.threads } : {}),
    });
    const writes = [writeFileAtomic(args.out, encodeGreyPng(result.labels, result.width, result.height))];
    if (args["out-prob"]) {
      // Float32Array is little-endian on every platform Node supports here (x86-64, arm64).
      writes.push(writeFileAtomic(args["out-prob"], new Uint8Array(result.q.buffer, result.q.byteOffset, result.q.byteLength)));
    }
    await Promise.all(writes);
    if (args.json) {
      printJson("crf", {
        out: args.out,
        outProb: args["out-prob"] ?? null,
        width: result.width,
        height: result.height,
        nLabels,
        timing: result.timing,
      });
      return;
    }
    if (args.timing) {
      const t = result.timing;
      console.log(`crf_ms=${(t.unaryMs + t.setupMs + t.inferenceMs).toFixed(2)}`);
    }
  },
};

/** Option checks with the flag names (the library would name its own option fields). */
function checkOptions(args: CrfArgs): void {
  const bad = (flag: string, rule: string, value: unknown): StcnError =>
    new StcnError("ERR_STCN_ARGUMENT", `--${flag} must be ${rule}, got ${String(value)}`);
  for (const flag of ["sxy-gaussian", "sxy-bilateral", "srgb"] as const) {
    const v = args[flag];
    if (!(Number.isFinite(v) && v > 0)) throw bad(flag, "a positive number", v);
  }
  for (const flag of ["compat-gaussian", "compat-bilateral"] as const) {
    if (!Number.isFinite(args[flag])) throw bad(flag, "a finite number", args[flag]);
  }
  if (!(args["gt-prob"] > 0 && args["gt-prob"] < 1)) throw bad("gt-prob", "in (0, 1)", args["gt-prob"]);
  if (!Number.isInteger(args.iterations) || args.iterations < 0) throw bad("iterations", "a non-negative integer", args.iterations);
  const n = args["n-labels"];
  if (n !== undefined && (!Number.isInteger(n) || n < 1 || n > 256)) throw bad("n-labels", "an integer in [1, 256]", n);
  if (args.threads !== undefined && (!Number.isInteger(args.threads) || args.threads < 1)) throw bad("threads", "a positive integer", args.threads);
}
