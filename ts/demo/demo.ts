/**
 * `runDemo`: generated clips (or the user's clip) through the bundled demo STCN, with overlays, a
 * contact sheet and (for generated clips) the DAVIS J&F against the clip's known masks.
 *
 * Output layout (under `out`):
 *   frames/<seq>/00000.jpg      the input frames
 *   masks-gt/<seq>/00000.png    ground truth (generated clips only)
 *   masks/<seq>/00000.png       STCN's masks (DAVIS palette)
 *   overlays/<seq>/00000.jpg    frame + mask colours + object outlines
 *   overlay.mp4                 the same as a video (a video of your own: `video`)
 *   contact-sheet.png           6 frames per clip, one row each (labelled with the frame number):
 *                               columns GT (when known), ours, overlay (labelled)
 *   davis/                      DAVIS root (links to frames/ and masks-gt/) the evaluator reads
 *   global_results-demo.csv, per-sequence_results-demo.csv   (generated clips)
 */
import { mkdir, rm, symlink } from "node:fs/promises";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import sharp from "sharp";
import { StcnError } from "../errors.js";
import { writeFileAtomic } from "../io/atomic.js";
import { encodeRgb, readRgb, type RgbImage } from "../io/image.js";
import { davisPalette, type Palette } from "../io/palette.js";
import { encodeLabelPng, readLabelPng } from "../io/png.js";
import { overlayLabels } from "../io/overlay.js";
import { packageRoot } from "../native.js";
import { evaluateDavis, type DavisEvaluation } from "../davis/evaluate.js";
import { Stcn, type StcnLoadOptions } from "../stcn/stcn.js";
import { segmentFolder } from "../stcn/segment.js";
import { listFrames } from "../stcn/video.js";
import { probeVideo } from "../video/probe.js";
import { segmentVideo } from "../video/segment.js";
import { DEFAULT_CLIP, frameFileName, generateClip } from "./generator.js";
import { drawText, TEXT_HEIGHT_UNITS, textWidth } from "./label-text.js";

/** The bundled demo model (trained by torchscript/train_demo.py on generated clips). */
export const DEMO_MODEL_PATH: string = join(packageRoot, "models", "demo", "stcn-demo.pt");
/** The clip `stcn demo` shows by default (a seed never used in training). */
export const DEMO_DEFAULT_SEED = 2027;
/** Working size (shorter side) the demo model was trained at. */
export const DEMO_SIZE = DEFAULT_CLIP.height;

/** Options of {@link runDemo}. */
export interface DemoOptions {
  /** Output folder (created; default "./stcn-demo"). */
  out?: string;
  /** TorchScript STCN (default {@link DEMO_MODEL_PATH}). */
  model?: string;
  /** Seeds of the generated clips (default [{@link DEMO_DEFAULT_SEED}]). Ignored with `frames`. */
  seeds?: readonly number[];
  /** Frames per generated clip (default 30). */
  length?: number;
  /** Objects per generated clip (1-4; default from the seed). */
  objects?: number;
  /** The user's clip instead of generated ones: a folder of frames ... */
  frames?: string;
  /** ... or a video file (any format ffmpeg reads; writes `overlay.mp4` instead of overlay images) ... */
  video?: string;
  /** ... and its first-frame mask (palette or greyscale PNG). */
  mask?: string;
  /** Working size, shorter side (default {@link DEMO_SIZE}; 0 = input size). */
  size?: number;
  /** Top-k of the memory read (default 20). */
  topK?: number;
  /**
   * Memory interval (default: the model's metadata `recommended.mem_every`, chosen on validation
   * clips by torchscript/train_demo.py; 5, STCN's default, when the model has none).
   */
  memEvery?: number;
  device?: string;
  /** Mixed precision (`Stcn.load`'s `half`: float16 autocast on CUDA, bfloat16 on CPU). Default false. */
  half?: boolean;
  /** Load-time optimization (`Stcn.load`'s `optimization`; default: Stcn.load's default). */
  optimization?: StcnLoadOptions["optimization"];
  /** Called with a line of progress text. */
  onProgress?: (line: string) => void;
}

/** One segmented clip. */
export interface DemoClip {
  name: string;
  frames: number;
  objects: number;
  width: number;
  height: number;
  computeSeconds: number;
}

/** What {@link runDemo} returns. */
export interface DemoResult {
  out: string;
  model: string;
  clips: DemoClip[];
  /** DAVIS evaluation (null for a user clip: no ground truth). */
  evaluation: DavisEvaluation | null;
  /** Total frames / total native propagation seconds. */
  fps: number;
  /** Memory interval used. */
  memEvery: number;
  contactSheet: string;
}

function recommendedMemEvery(metadata: Record<string, unknown> | null): number | undefined {
  const rec = metadata?.recommended as { mem_every?: unknown } | undefined;
  return typeof rec?.mem_every === "number" && Number.isInteger(rec.mem_every) && rec.mem_every >= 1 ? rec.mem_every : undefined;
}

function overlay(frame: RgbImage, labels: Uint8Array, palette: Palette): RgbImage {
  return overlayLabels(frame, labels, { palette });
}

/** Frame indices shown on the contact sheet (first, last and evenly in between). */
function sheetIndices(count: number, columns: number): number[] {
  if (count <= columns) return Array.from({ length: count }, (_, i) => i);
  return Array.from({ length: columns }, (_, i) => Math.round((i * (count - 1)) / (columns - 1)));
}

/** One row of the contact sheet: a frame, its label (frame number) and one image per column. */
interface SheetRow {
  label: string;
  cells: RgbImage[];
}

/** A label map in its palette's colours (background black), for the GT and ours columns. */
function colourLabels(labels: Uint8Array, width: number, height: number, palette: Palette): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < labels.length; i++) {
    const c = palette[labels[i] as number] ?? [255, 255, 255];
    data[3 * i] = c[0];
    data[3 * i + 1] = c[1];
    data[3 * i + 2] = c[2];
  }
  return { data, width, height };
}

/**
 * The contact sheet: a header row naming the columns (GT, ours, overlay), then one row per shown
 * frame, labelled on the left with its frame number (and clip, when there are several).
 */
async function contactSheet(columns: string[], rows: SheetRow[], path: string): Promise<void> {
  const gap = 4;
  const scale = 2;
  const textH = TEXT_HEIGHT_UNITS * scale;
  const cellW = Math.max(...rows.flatMap((r) => r.cells.map((c) => c.width)));
  const cellH = Math.max(...rows.flatMap((r) => r.cells.map((c) => c.height)));
  const labelW = Math.max(...rows.map((r) => textWidth(r.label, scale))) + 2 * gap;
  const headerH = textH + 2 * gap;
  const width = labelW + columns.length * (cellW + gap) + gap;
  const height = headerH + rows.length * (cellH + gap) + gap;
  const sheet: RgbImage = { data: new Uint8Array(width * height * 3).fill(24), width, height };
  const white: [number, number, number] = [235, 235, 235];
  const left = (c: number) => labelW + gap + c * (cellW + gap);
  const top = (r: number) => headerH + r * (cellH + gap);
  columns.forEach((name, c) => drawText(sheet, name, left(c) + Math.max(0, (cellW - textWidth(name, scale)) >> 1), gap, scale, white));
  rows.forEach((row, r) => {
    drawText(sheet, row.label, gap, top(r) + Math.max(0, (cellH - textH) >> 1), scale, white);
    row.cells.forEach((img, c) => {
      for (let y = 0; y < img.height; y++) {
        const from = y * img.width * 3;
        sheet.data.set(img.data.subarray(from, from + img.width * 3), ((top(r) + y) * width + left(c)) * 3);
      }
    });
  });
  const png = await sharp(sheet.data, { raw: { width, height, channels: 3 } }).png().toBuffer();
  await writeFileAtomic(path, new Uint8Array(png.buffer, png.byteOffset, png.byteLength));
}

/**
 * Runs the demo: generates clips (or takes `frames` + `mask`), segments them with the demo model,
 * writes frames, masks, overlays and a contact sheet, and scores generated clips with the DAVIS
 * evaluator. Throws StcnError (ERR_STCN_ARGUMENT / ERR_STCN_INPUT / ERR_STCN_MODEL_*) naming the
 * argument or file at fault.
 */
export async function runDemo(options: DemoOptions = {}): Promise<DemoResult> {
  const out = resolve(options.out ?? "stcn-demo");
  const modelPath = options.model ?? DEMO_MODEL_PATH;
  const say = options.onProgress ?? (() => undefined);
  const user = options.frames !== undefined || options.video !== undefined || options.mask !== undefined;
  if (user && ((options.frames === undefined) === (options.video === undefined) || options.mask === undefined)) {
    throw new StcnError("ERR_STCN_ARGUMENT", "a clip of your own needs --frames DIR or --video FILE, and --mask FIRST.png");
  }
  if (!existsSync(modelPath)) {
    throw new StcnError("ERR_STCN_MODEL_NOT_FOUND", `demo model not found: ${modelPath} (train one with torchscript/train_demo.py)`);
  }
  const seeds = options.seeds ?? [DEMO_DEFAULT_SEED];
  if (!user && seeds.length === 0) throw new StcnError("ERR_STCN_ARGUMENT", "no seeds given");
  const size = options.size ?? DEMO_SIZE;
  const palette = davisPalette();

  const model = await Stcn.load(modelPath, {
    device: options.device ?? "cpu",
    ...(options.half !== undefined ? { half: options.half } : {}),
    ...(options.optimization !== undefined ? { optimization: options.optimization } : {}),
  });
  const memEvery = options.memEvery ?? recommendedMemEvery(model.metadata) ?? 5;
  const clips: DemoClip[] = [];
  const sheetRows: SheetRow[] = [];
  let sheetColumns = ["ours", "overlay"];
  try {
    if (user && options.video !== undefined) {
      const name = "clip";
      const masksDir = join(out, "masks", name);
      await rm(masksDir, { recursive: true, force: true });
      const first = await readLabelPng(options.mask as string);
      const info = await probeVideo(options.video);
      const shown = sheetIndices(info.frameCount, 6);
      say(`segmenting ${info.frameCount} frames of ${options.video} (${info.width}x${info.height}, ${info.fps.toFixed(2)} fps)`);
      const result = await segmentVideo(model, {
        video: options.video,
        mask: options.mask,
        out: masksDir,
        outVideo: join(out, "overlay.mp4"),
        size,
        topK: options.topK,
        memEvery,
        onFrame: (frame) => {
          if (!shown.includes(frame.index)) return;
          const p = first.palette ?? palette;
          sheetRows.push({
            label: `frame ${frame.index}`,
            cells: [colourLabels(frame.labels, frame.rgb.width, frame.rgb.height, p), overlay(frame.rgb, frame.labels, p)],
          });
        },
      });
      clips.push({ name, frames: result.frames, objects: result.objectIds.length, width: result.width, height: result.height, computeSeconds: result.computeSeconds });
    } else if (user) {
      const frames = await listFrames(options.frames as string);
      const first = await readLabelPng(options.mask as string);
      const name = "clip";
      const masksDir = join(out, "masks", name);
      await rm(masksDir, { recursive: true, force: true });
      say(`segmenting ${frames.length} frames of ${options.frames}`);
      const result = await segmentFolder(model, {
        frames: options.frames as string,
        mask: options.mask,
        out: masksDir,
        size,
        topK: options.topK,
        memEvery,
      });
      const objects = result.objectIds.length;
      const shown = sheetIndices(frames.length, 6);
      for (const [t, f] of frames.entries()) {
        const rgb = await readRgb(f.path);
        const labels = (await readLabelPng(join(masksDir, `${f.stem}.png`))).data;
        const ov = overlay(rgb, labels, first.palette ?? palette);
        await writeFileAtomic(join(out, "overlays", name, `${f.stem}.jpg`), await encodeRgb(ov, "jpeg"));
        if (shown.includes(t)) sheetRows.push({ label: `frame ${t}`, cells: [colourLabels(labels, rgb.width, rgb.height, first.palette ?? palette), ov] });
      }
      clips.push({ name, frames: result.frames, objects, width: result.width, height: result.height, computeSeconds: result.computeSeconds });
    } else {
      for (const seed of seeds) {
        const clip = generateClip({ seed, frames: options.length, objects: options.objects });
        const framesDir = join(out, "frames", clip.name);
        const gtDir = join(out, "masks-gt", clip.name);
        const masksDir = join(out, "masks", clip.name);
        for (const dir of [framesDir, gtDir, masksDir]) await rm(dir, { recursive: true, force: true });
        await Promise.all(
          clip.frames.map(async (frame, t) => {
            await writeFileAtomic(join(framesDir, frameFileName(t, "jpg")), await encodeRgb({ data: frame, width: clip.width, height: clip.height }, "jpeg"));
            await writeFileAtomic(join(gtDir, frameFileName(t, "png")), encodeLabelPng(clip.masks[t] as Uint8Array, clip.width, clip.height, palette));
          }),
        );
        say(`${clip.name}: ${clip.frames.length} frames ${clip.width}x${clip.height}, ${clip.objects} object(s), ${clip.distractors} distractor(s)`);
        const result = await segmentFolder(model, {
          frames: framesDir,
          mask: join(gtDir, frameFileName(0, "png")),
          out: masksDir,
          size,
          topK: options.topK,
          memEvery,
        });
        const shown = sheetIndices(clip.frames.length, 6);
        sheetColumns = ["GT", "ours", "overlay"];
        for (let t = 0; t < clip.frames.length; t++) {
          const rgb = await readRgb(join(framesDir, frameFileName(t, "jpg")));
          const labels = (await readLabelPng(join(masksDir, frameFileName(t, "png")))).data;
          const ov = overlay(rgb, labels, palette);
          await writeFileAtomic(join(out, "overlays", clip.name, frameFileName(t, "jpg")), await encodeRgb(ov, "jpeg"));
          if (shown.includes(t)) {
            sheetRows.push({
              label: seeds.length > 1 ? `clip ${seeds.indexOf(seed) + 1} #${t}` : `frame ${t}`,
              cells: [colourLabels(clip.masks[t] as Uint8Array, clip.width, clip.height, palette), colourLabels(labels, clip.width, clip.height, palette), ov],
            });
          }
        }
        clips.push({ name: clip.name, frames: result.frames, objects: clip.objects, width: clip.width, height: clip.height, computeSeconds: result.computeSeconds });
      }
    }
  } finally {
    model.dispose();
  }

  let evaluation: DavisEvaluation | null = null;
  if (!user) {
    // A DAVIS root over frames/ and masks-gt/ (links, no copies) for the evaluator.
    const root = join(out, "davis");
    await rm(root, { recursive: true, force: true });
    await mkdir(join(root, "JPEGImages"), { recursive: true });
    await mkdir(join(root, "Annotations"), { recursive: true });
    await symlink(join("..", "..", "frames"), join(root, "JPEGImages", "480p"), "dir");
    await symlink(join("..", "..", "masks-gt"), join(root, "Annotations", "480p"), "dir");
    await writeFileAtomic(join(root, "ImageSets", "2017", "demo.txt"), clips.map((c) => c.name).join("\n") + "\n");
    say("evaluating (DAVIS 2017 semi-supervised protocol)");
    evaluation = await evaluateDavis({ davisRoot: root, resultsPath: join(out, "masks"), set: "demo", sequences: clips.map((c) => c.name), out });
  }
  const sheet = join(out, "contact-sheet.png");
  await contactSheet(sheetColumns, sheetRows, sheet);
  const frames = clips.reduce((s, c) => s + c.frames, 0);
  const seconds = clips.reduce((s, c) => s + c.computeSeconds, 0);
  return { out, model: modelPath, clips, evaluation, fps: frames / seconds, memEvery, contactSheet: sheet };
}

/** The summary line `demo: J&F 0.xxx J 0.xxx F 0.xxx FPS n.n` (fractions, as the DAVIS CSVs). */
export function demoSummary(result: DemoResult): string {
  const fps = `FPS ${result.fps.toFixed(1)}`;
  if (!result.evaluation) return `demo: J&F n/a (no ground truth for your clip) ${fps}`;
  const g = result.evaluation.global;
  return `demo: J&F ${g["J&F-Mean"].toFixed(3)} J ${g["J-Mean"].toFixed(3)} F ${g["F-Mean"].toFixed(3)} ${fps}`;
}
