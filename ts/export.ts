/**
 * The Python exporters of torchscript/ (official checkpoints -> TorchScript archives), run from
 * Node.js at export time only; the archives then run through the addon without Python.
 *
 * Adding a model is one entry in {@link exporters}: the script name and its options. Every declared
 * option is passed through to the script as `--<name> <value>` (booleans as a bare `--<name>` when
 * true, arrays repeated), so the declaration and the script's argparse flags use the same names. The
 * defaults live in the scripts only (`python3 torchscript/<script> --help`).
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { StcnError } from "./errors.js";
import { packageRoot } from "./native.js";

/** One option of an exporter script: its argparse flag `--<name>` takes a value of this kind. */
export interface ExporterOption {
  /** Value kind; absent with `choices` (the value is one of them). */
  type?: "string" | "number" | "boolean";
  choices?: readonly (string | number)[];
  /** The flag may be repeated. */
  array?: boolean;
  /** The command line must give it. */
  demandOption?: boolean;
  /** One line of help (the script's own `--help` states the defaults). */
  describe: string;
}

/** One exporter: a script of torchscript/ and the options it accepts. */
export interface ExporterSpec {
  /** File name in torchscript/. */
  script: string;
  describe: string;
  /** Options, passed through under the same names; defaults are the script's. */
  options: Record<string, ExporterOption>;
}

const weightsOptions: Record<string, ExporterOption> = {
  checkpoint: { type: "string", describe: "official weights file (see the exporter's docstring)" },
  "random-init": { type: "boolean", describe: "seeded random weights (tests)" },
  seed: { type: "number", describe: "seed for --random-init" },
  out: { type: "string", demandOption: true, describe: "output TorchScript archive (.pt)" },
};

/** Options both detector exporters take (torchscript/export_util.py add_detector_arguments). */
function detectorOptions(classIds: string): Record<string, ExporterOption> {
  return {
    "min-size": { type: "number", describe: "internal resize, shorter side" },
    "max-size": { type: "number", describe: "internal resize, longer side cap" },
    "detections-per-img": { type: "number", describe: "max detections" },
    "class-bias": { type: "string", array: true, describe: `CLASS=VALUE added to the classifier bias, ${classIds} (random-init tests)` },
  };
}

/** The exporters `stcn export` knows, by subcommand name. */
export const exporters: Record<string, ExporterSpec> = {
  stcn: {
    script: "export_stcn.py",
    describe: "STCN (official stcn.pth state_dict, 405 entries; stage-0 4-channel and module. prefix accepted) -> TorchScript",
    options: {
      ...weightsOptions,
      "key-proj-scale": { type: "number", describe: "with --random-init: scale key_proj weights" },
      "state-dict-out": { type: "string", describe: "also write the state_dict (official key names and shapes)" },
    },
  },
  dino: {
    script: "export_dino.py",
    describe: "DINO ViT-S/16 or ViT-B/16 (official checkpoints) -> TorchScript for LOST",
    options: {
      ...weightsOptions,
      arch: { choices: ["vit_small", "vit_base", "vit_tiny"], demandOption: true, describe: "ViT variant (the study's notebooks: vit_base)" },
      "patch-size": { choices: [16, 8], describe: "patch size" },
      "checkpoint-key": { type: "string", describe: "key of the weights inside a training checkpoint (e.g. teacher)" },
    },
  },
  maskrcnn: {
    script: "export_maskrcnn.py",
    describe: "torchvision Mask R-CNN R50-FPN (COCO) -> TorchScript detector",
    options: {
      ...weightsOptions,
      ...detectorOptions("COCO category ids"),
      "box-score-thresh": { type: "number", describe: "detection score floor" },
      "box-nms-thresh": { type: "number", describe: "per-class NMS IoU" },
    },
  },
  pointrend: {
    script: "export_pointrend.py",
    describe: "PointRend R50-FPN (detectron2 pointrend_rcnn_R_50_FPN_3x_coco, model_final_edd263.pkl) -> TorchScript detector",
    options: {
      ...weightsOptions,
      "channel-order": { choices: ["rgb", "bgr"], describe: "what the network sees: rgb = the study (RGB into BGR-trained weights), bgr = detectron2's intended order" },
      ...detectorOptions("detectron2 contiguous ids"),
      "score-thresh": { type: "number", describe: "detection score floor, strict >" },
      "nms-thresh": { type: "number", describe: "per-class NMS IoU" },
      "residual-scale": { type: "number", describe: "random-init only: FrozenBN scale of each bottleneck's last conv" },
    },
  },
};

/** Options of {@link runExporter}. */
export interface RunExporterOptions {
  /** Interpreter with torch/torchvision. */
  python?: string;
  /** Where the script's stdout/stderr go (default: inherited). Ignored when `onLine` is given. */
  stdio?: "inherit" | "pipe";
  /**
   * Stream the script's stderr (warnings, a failure's Python traceback) as it comes. Default false:
   * stderr is kept, and a failure is reported in one line with the script's final error line.
   */
  verbose?: boolean;
  /** Receives every line the script prints on stdout (and on stderr with `verbose`), instead of inheriting them. */
  onLine?: (line: string) => void;
}

/** The last line of a Python traceback (`ValueError: ...`), or the last non-empty stderr line. */
export function pythonErrorLine(stderr: string): string {
  const lines = stderr.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  for (let i = lines.length - 1; i >= 0; i--) {
    if (/^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b:?/.test(lines[i] as string)) return lines[i] as string;
  }
  return lines[lines.length - 1] ?? "";
}

/** The script's command-line arguments for the declared options present in `values`. */
export function exporterArgs(spec: ExporterSpec, values: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const name of Object.keys(spec.options)) {
    const value = values[name];
    if (value === undefined || value === null || value === false) continue;
    if (value === true) out.push(`--${name}`);
    else if (Array.isArray(value)) for (const v of value) out.push(`--${name}`, String(v));
    else out.push(`--${name}`, String(value));
  }
  return out;
}

/**
 * Runs exporter `name` with `values` (option name -> value). Resolves when the archive is written;
 * rejects with ERR_STCN_ARGUMENT (unknown exporter), ERR_STCN_INPUT (the script refused its input:
 * exit code 2, e.g. a checkpoint that does not match) or ERR_STCN_INTERNAL (any other failure),
 * in one line carrying the script's final error line (the whole traceback streams with `verbose`).
 */
export async function runExporter(name: string, values: Record<string, unknown>, options: RunExporterOptions = {}): Promise<void> {
  const spec = exporters[name];
  if (!spec) throw new StcnError("ERR_STCN_ARGUMENT", `unknown exporter "${name}" (known: ${Object.keys(exporters).join(", ")})`);
  const script = join(packageRoot, "torchscript", spec.script);
  if (!existsSync(script)) throw new StcnError("ERR_STCN_INTERNAL", `exporter script missing: ${script}`);
  const python = options.python ?? process.env.STCN_PYTHON ?? "/usr/bin/python3";
  const args = [script, ...exporterArgs(spec, values)];
  const onLine = options.onLine;
  const stdio = onLine ? "pipe" : (options.stdio ?? "inherit");
  await new Promise<void>((resolve, reject) => {
    const child = spawn(python, args, { stdio: stdio === "inherit" ? ["ignore", "inherit", "pipe"] : ["ignore", "pipe", "pipe"] });
    let stderr = "";
    const pending = { out: "", err: "" };
    const lines = (key: "out" | "err", text: string): void => {
      if (!onLine) return;
      const parts = (pending[key] + text).split("\n");
      pending[key] = parts.pop() ?? "";
      for (const line of parts) if (line.trim()) onLine(line);
    };
    child.stdout?.on("data", (chunk: Buffer) => lines("out", chunk.toString()));
    child.stderr?.on("data", (chunk: Buffer) => {
      const text = chunk.toString();
      // stderr (warnings, a traceback) is shown only with `verbose`; otherwise its last error line
      // ends the one-line failure message.
      if (options.verbose) {
        if (onLine) lines("err", text);
        else if (stdio === "inherit") process.stderr.write(text);
      }
      stderr = (stderr + text).slice(-8000);
    });
    child.on("error", (error) => {
      reject(new StcnError("ERR_STCN_INPUT", `cannot run ${python} (set STCN_PYTHON or --python): ${error.message}`, { cause: error }));
    });
    child.on("close", (code, signal) => {
      if (code === 0) return resolve();
      const last = pythonErrorLine(stderr);
      const why = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      const hint = options.verbose ? "" : " (--verbose shows the Python traceback)";
      reject(new StcnError(code === 2 ? "ERR_STCN_INPUT" : "ERR_STCN_INTERNAL", `export ${name}: ${spec.script} ${why}${last ? `: ${last}` : ""}${hint}`));
    });
  });
}
