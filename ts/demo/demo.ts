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
 *   contact-sheet.png           every clip: ground-truth row (when known) and result row
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

async function contactSheet(rows: RgbImage[][], path: string): Promise<void> {
  const gap = 4;
  const cellW = Math.max(...rows.flat().map((r) => r.width));
  const cellH = Math.max(...rows.flat().map((r) => r.height));
  const columns = Math.max(...rows.map((r) => r.length));
  const width = columns * cellW + (columns + 1) * gap;
  const height = rows.length * cellH + (rows.length + 1) * gap;
  const composite = await Promise.all(
    rows.flatMap((row, r) =>
      row.map(async (img, c) => ({
        input: await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } }).png().toBuffer(),
        left: gap + c * (cellW + gap),
        top: gap + r * (cellH + gap),
      })),
    ),
  );
  const png = await sharp({ create: { width, height, channels: 3, background: { r: 24, g: 24, b: 24 } } })
    .composite(composite)
    .png()
    .toBuffer();
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
  const sheetRows: RgbImage[][] = [];
  try {
    if (user && options.video !== undefined) {
      const name = "clip";
      const masksDir = join(out, "masks", name);
      await rm(masksDir, { recursive: true, force: true });
      const first = await readLabelPng(options.mask as string);
      const info = await probeVideo(options.video);
      const shown = sheetIndices(info.frameCount, 6);
      const row: RgbImage[] = [];
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
          if (shown.includes(frame.index)) row.push(overlay(frame.rgb, frame.labels, first.palette ?? palette));
        },
      });
      sheetRows.push(row);
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
      const row: RgbImage[] = [];
      for (const [t, f] of frames.entries()) {
        const rgb = await readRgb(f.path);
        const labels = (await readLabelPng(join(masksDir, `${f.stem}.png`))).data;
        const ov = overlay(rgb, labels, first.palette ?? palette);
        await writeFileAtomic(join(out, "overlays", name, `${f.stem}.jpg`), await encodeRgb(ov, "jpeg"));
        if (shown.includes(t)) row.push(ov);
      }
      sheetRows.push(row);
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
        const gtRow: RgbImage[] = [];
        const row: RgbImage[] = [];
        for (let t = 0; t < clip.frames.length; t++) {
          const rgb = await readRgb(join(framesDir, frameFileName(t, "jpg")));
          const labels = (await readLabelPng(join(masksDir, frameFileName(t, "png")))).data;
          const ov = overlay(rgb, labels, palette);
          await writeFileAtomic(join(out, "overlays", clip.name, frameFileName(t, "jpg")), await encodeRgb(ov, "jpeg"));
          if (shown.includes(t)) {
            row.push(ov);
            gtRow.push(overlay(rgb, clip.masks[t] as Uint8Array, palette));
          }
        }
        sheetRows.push(gtRow, row);
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
  await contactSheet(sheetRows, sheet);
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
