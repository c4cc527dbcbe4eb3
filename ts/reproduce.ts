/**
 * `reproduceDavis`: the study's table in one call. For each first-frame method (ground truth, Mask
 * R-CNN, PointRend, LOST + CRF) it annotates frame 0 of every sequence, propagates with STCN, scores
 * the results with the DAVIS evaluator and reports J&F / J / F and the propagation FPS (detector time
 * reported separately, as the study did).
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { detectorAnnotator, type DetectorMethod } from "./annotators/detector.js";
import { lostCrf } from "./annotators/lost.js";
import { evaluateDavis, type DavisGlobalResults } from "./davis/evaluate.js";
import { openDavis } from "./davis/reader.js";
import { StcnError } from "./errors.js";
import { writeFileAtomic } from "./io/atomic.js";
import { readRgb } from "./io/image.js";
import { davisPalette } from "./io/palette.js";
import { readLabelPng, writeLabelPng } from "./io/png.js";
import { loadModule, type Module } from "./module.js";
import { segmentFolder } from "./stcn/segment.js";
import { Stcn } from "./stcn/stcn.js";

/** First-frame methods of the study's Table 2. */
export type FirstFrameMethod = "gt" | "maskrcnn" | "pointrend" | "lost-crf";
export const FIRST_FRAME_METHODS: readonly FirstFrameMethod[] = ["gt", "maskrcnn", "pointrend", "lost-crf"];

/** Options of {@link reproduceDavis}. */
export interface ReproduceDavisOptions {
  /** DAVIS 2017 root (JPEGImages/480p, Annotations/480p, ImageSets/2017). */
  davisRoot: string;
  /** STCN TorchScript (stcn export stcn). */
  stcn: string;
  /** Methods to run, in order (default: every method whose model is given; gt always). */
  methods?: readonly FirstFrameMethod[];
  /** Detector / DINO archives (stcn export maskrcnn | pointrend | dino). */
  maskrcnn?: string;
  pointrend?: string;
  dino?: string;
  /** ImageSets list (default "val"). */
  set?: string;
  sequences?: readonly string[];
  /** Output root: `<out>/<method>/<sequence>/*.png`, `<out>/<method>/first-frames/`, CSVs, table. */
  out: string;
  device?: string;
  /** STCN options (study defaults: top-k 20, mem-every 5, size 480). */
  topK?: number;
  memEvery?: number;
  size?: number;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

/** One row of the table. */
export interface ReproduceRow {
  method: FirstFrameMethod;
  global: DavisGlobalResults;
  frames: number;
  /** Propagation seconds (official STCN timing: IO excluded; annotation excluded). */
  propagationSeconds: number;
  fps: number;
  /** Mean first-frame annotation time per sequence in ms (0 for gt). */
  annotateMs: number;
  resultsDir: string;
}

/** What {@link reproduceDavis} returns. */
export interface ReproduceResult {
  rows: ReproduceRow[];
  /** The table as printed (also written to `<out>/table.md`). */
  table: string;
}

function methodsFor(options: ReproduceDavisOptions): FirstFrameMethod[] {
  if (options.methods) return [...options.methods];
  const out: FirstFrameMethod[] = ["gt"];
  if (options.maskrcnn) out.push("maskrcnn");
  if (options.pointrend) out.push("pointrend");
  if (options.dino) out.push("lost-crf");
  return out;
}

function modelFor(options: ReproduceDavisOptions, method: Exclude<FirstFrameMethod, "gt">): string {
  const path = method === "lost-crf" ? options.dino : options[method];
  if (!path) {
    const flag = method === "lost-crf" ? "--dino" : `--${method}`;
    throw new StcnError("ERR_STCN_ARGUMENT", `method ${method} needs its model: ${flag} FILE`);
  }
  return path;
}

/** Formats rows the way the study's Table 2 reads (percent, one decimal; FPS one decimal). */
export function formatReproduceTable(rows: readonly ReproduceRow[]): string {
  const names: Record<FirstFrameMethod, string> = { gt: "ground truth", maskrcnn: "Mask R-CNN", pointrend: "PointRend", "lost-crf": "LOST + CRF" };
  const pct = (v: number) => (100 * v).toFixed(1);
  const lines = ["| first frame | J&F | J | F | FPS | annotate ms/seq |", "| --- | --- | --- | --- | --- | --- |"];
  for (const r of rows) {
    lines.push(
      `| ${names[r.method]} | ${pct(r.global["J&F-Mean"])} | ${pct(r.global["J-Mean"])} | ${pct(r.global["F-Mean"])} | ${r.fps.toFixed(1)} | ${r.annotateMs.toFixed(0)} |`,
    );
  }
  return lines.join("\n");
}

/**
 * Runs the study's DAVIS experiment (Table 2) for each method, in one pass without resume.
 * @deprecated Use {@link reproduceStudy} (ts/study/study.ts): Tables 1-3, resumable units, the report.
 */
export async function reproduceDavis(options: ReproduceDavisOptions): Promise<ReproduceResult> {
  const log = options.log ?? (() => undefined);
  const methods = methodsFor(options);
  for (const m of methods) {
    if (!FIRST_FRAME_METHODS.includes(m)) throw new StcnError("ERR_STCN_ARGUMENT", `unknown method ${String(m)} (gt, maskrcnn, pointrend, lost-crf)`);
    if (m !== "gt") modelFor(options, m);
  }
  const dataset = await openDavis(options.davisRoot, {
    set: options.set ?? "val",
    ...(options.sequences ? { sequences: options.sequences } : {}),
  });
  const stcn = await Stcn.load(options.stcn, { device: options.device ?? "cpu" });
  const rows: ReproduceRow[] = [];
  try {
    for (const method of methods) {
      const resultsDir = join(options.out, method);
      const firstDir = join(resultsDir, "first-frames");
      await mkdir(firstDir, { recursive: true });
      let annotator: Module | undefined;
      if (method !== "gt") annotator = await loadModule(modelFor(options, method), { device: options.device ?? "cpu" });
      let frames = 0;
      let seconds = 0;
      let annotateMs = 0;
      try {
        for (const sequence of dataset.sequences) {
          const gtFirst = sequence.annotationPaths[0];
          const frame0 = sequence.imagePaths[0];
          if (!gtFirst || !frame0) throw new StcnError("ERR_STCN_INPUT", `sequence ${sequence.name}: no first frame or first annotation`);
          let mask = gtFirst;
          if (method !== "gt") {
            const t = performance.now();
            const image = await readRgb(frame0);
            mask = join(firstDir, `${sequence.name}.png`);
            if (method === "lost-crf") {
              const found = await lostCrf(annotator as Module, image, { device: options.device ?? "cpu" });
              await writeLabelPng(mask, found.labels, found.width, found.height, davisPalette());
            } else {
              const gt = await readLabelPng(gtFirst);
              const result = await detectorAnnotator(annotator as Module, { method: method as DetectorMethod }).annotate(image, gt);
              for (const w of result.warnings) log(`warning: ${sequence.name}: ${w}`);
              await writeLabelPng(mask, result.labels, result.width, result.height, gt.palette ?? davisPalette());
            }
            annotateMs += performance.now() - t;
          }
          const segmented = await segmentFolder(stcn, {
            frames: join(options.davisRoot, "JPEGImages", "480p", sequence.name),
            mask,
            out: join(resultsDir, sequence.name),
            // A re-run replaces this function's own results.
            overwrite: true,
            topK: options.topK ?? 20,
            memEvery: options.memEvery ?? 5,
            size: options.size ?? 480,
          });
          frames += segmented.frames;
          seconds += segmented.computeSeconds;
          log(`${method}: ${sequence.name} ${segmented.frames} frames, ${segmented.fps.toFixed(2)} FPS`);
        }
      } finally {
        annotator?.dispose();
      }
      const evaluation = await evaluateDavis({
        davisRoot: options.davisRoot,
        resultsPath: resultsDir,
        set: options.set ?? "val",
        ...(options.sequences ? { sequences: options.sequences } : {}),
      });
      const row: ReproduceRow = {
        method,
        global: evaluation.global,
        frames,
        propagationSeconds: seconds,
        fps: frames / seconds,
        annotateMs: method === "gt" ? 0 : annotateMs / dataset.sequences.length,
        resultsDir,
      };
      rows.push(row);
      log(`${method}: J&F ${row.global["J&F-Mean"].toFixed(3)} J ${row.global["J-Mean"].toFixed(3)} F ${row.global["F-Mean"].toFixed(3)} FPS ${row.fps.toFixed(2)}`);
    }
  } finally {
    stcn.dispose();
  }
  const table = formatReproduceTable(rows);
  await writeFileAtomic(join(options.out, "table.md"), `${table}\n`);
  await writeFileAtomic(join(options.out, "table.json"), `${JSON.stringify(rows, null, 2)}\n`);
  return { rows, table };
}
