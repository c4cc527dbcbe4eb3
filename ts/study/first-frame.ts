/**
 * First frames of the study's methods.
 *
 * - Tables 1 and 2 (masks, on the DAVIS 480p frame 0): `gt` is the dataset's first annotation;
 *   Mask R-CNN / PointRend masks of the detections matched to the GT objects (the study's L2 box
 *   rule, GT ids kept); LOST + CRF (one object, id 1).
 * - Table 3 (boxes, on the original Something-Something frame): `gt` is the box mask boxes-to-davis
 *   wrote for frame 1; Mask R-CNN / PointRend give the box of the detection matched (L2 over
 *   [x0, y0, x1, y1]) to each GT box; LOST gives the box of its object (the connected patch
 *   component of its seed). Every box is filled at the original size exactly as boxes-to-davis fills
 *   the GT boxes (object k = GT box k, later boxes on top) and resized to 480p with the same PIL
 *   nearest resize, so a method's box mask and the GT box mask are made the same way.
 */
import { readFile } from "node:fs/promises";
import { signalOption } from "../abort.js";
import { type PixelBox } from "../annotators/box-label-map.js";
import { candidateCount, detectorAnnotator, matchBoxes, STUDY_CANDIDATE_SCORE, type DetectorMethod } from "../annotators/detector.js";
import { lost, lostCrf } from "../annotators/lost.js";
import { boxMask, davis480pSize, pilNearestResize, type SomethingElseLabel } from "../davis/boxes-to-davis.js";
import { StcnError } from "../errors.js";
import { readRgb, type RgbImage } from "../io/image.js";
import { davisPalette } from "../io/palette.js";
import { encodeLabelPng, readLabelPng } from "../io/png.js";
import type { Module } from "../module.js";
import type { StudyMethod } from "./tables.js";

/** A first frame, encoded, with the annotation time. */
export interface FirstFrame {
  /** Palette PNG bytes of the first-frame label map. */
  png: Uint8Array;
  /** Annotation wall time in ms (0 for gt). */
  ms: number;
  warnings: string[];
}

/** Inputs of a Tables 1-2 first frame. */
export interface MaskFirstFrameInput {
  method: Exclude<StudyMethod, "lost">;
  /** The detector or DINO module (not for gt). */
  model?: Module;
  /** DAVIS frame 0 (path or decoded). */
  frame: string | RgbImage;
  /** DAVIS first annotation (the GT mask). */
  gtMask: string;
  /** Stops the annotation at its next stage boundary (AbortError). */
  signal?: AbortSignal;
}

function needModel(method: StudyMethod, model: Module | undefined): Module {
  if (!model) throw new StcnError("ERR_STCN_INTERNAL", `method ${method} runs without its model`);
  return model;
}

/** The first frame of a Table 1 / 2 method. */
export async function maskFirstFrame(input: MaskFirstFrameInput): Promise<FirstFrame> {
  if (input.method === "gt") return { png: new Uint8Array(await readFile(input.gtMask)), ms: 0, warnings: [] };
  const model = needModel(input.method, input.model);
  const t0 = performance.now();
  const image = typeof input.frame === "string" ? await readRgb(input.frame) : input.frame;
  if (input.method === "lost-crf") {
    const found = await lostCrf(model, image, signalOption(input.signal));
    const ms = performance.now() - t0;
    return { png: encodeLabelPng(found.labels, found.width, found.height, davisPalette()), ms, warnings: [] };
  }
  const gt = await readLabelPng(input.gtMask);
  const result = await detectorAnnotator(model, { method: input.method }).annotate(image, gt, signalOption(input.signal));
  const ms = performance.now() - t0;
  return { png: encodeLabelPng(result.labels, result.width, result.height, gt.palette ?? davisPalette()), ms, warnings: result.warnings };
}

/** Inputs of a Table 3 first frame. */
export interface BoxFirstFrameInput {
  method: Exclude<StudyMethod, "lost-crf">;
  model?: Module;
  /** The original (full-size) first frame. */
  frame: string;
  /** The GT boxes of that frame (annotations.json order: object k + 1 = box k). */
  gtBoxes: readonly SomethingElseLabel[];
  /** The box mask boxes-to-davis wrote for frame 1 (Annotations/480p/<video>/00000.png). */
  gtMask: string;
  /** Stops the annotation at its next stage boundary (AbortError). */
  signal?: AbortSignal;
}

/** The boxes of the detections matched to each GT box (null: no candidate detection). */
export function matchedDetectionBoxes(
  detections: { boxes: Float32Array; scores: Float32Array },
  gtBoxes: readonly SomethingElseLabel[],
  method: DetectorMethod,
): Array<PixelBox | null> {
  const gt = gtBoxes.map((l) => [l.box2d.x1, l.box2d.y1, l.box2d.x2, l.box2d.y2] as [number, number, number, number]);
  const matches = matchBoxes(gt, detections.boxes, candidateCount(detections.scores, STUDY_CANDIDATE_SCORE[method]));
  return matches.map((j) => (j === null || j === undefined ? null : (Array.from(detections.boxes.subarray(j * 4, j * 4 + 4)) as unknown as PixelBox)));
}

/** Boxes at the original size -> the 480p box mask, as boxes-to-davis builds its GT (ids 1..n in order). */
export function boxesTo480p(boxes: ReadonlyArray<PixelBox | null>, width: number, height: number): { labels: Uint8Array; width: number; height: number } {
  // A missing box is an empty one: it keeps the later objects' ids and paints nothing.
  const labels: SomethingElseLabel[] = boxes.map((b) => ({ box2d: b ? { x1: b[0], y1: b[1], x2: b[2], y2: b[3] } : { x1: 0, y1: 0, x2: 0, y2: 0 } }));
  const target = davis480pSize(width, height);
  return { labels: pilNearestResize(boxMask(labels, width, height), width, height, target.width, target.height), ...target };
}

/** The first frame of a Table 3 method. */
export async function boxFirstFrame(input: BoxFirstFrameInput): Promise<FirstFrame> {
  if (input.method === "gt") return { png: new Uint8Array(await readFile(input.gtMask)), ms: 0, warnings: [] };
  const model = needModel(input.method, input.model);
  const t0 = performance.now();
  const image = await readRgb(input.frame);
  const warnings: string[] = [];
  let boxes: Array<PixelBox | null>;
  if (input.method === "lost") {
    const found = await lost(model, image, signalOption(input.signal));
    boxes = [found.objects[0]?.box ?? null];
  } else {
    const detections = await detectorAnnotator(model, { method: input.method }).detect(image, signalOption(input.signal));
    boxes = matchedDetectionBoxes(detections, input.gtBoxes, input.method);
    const empty = boxes.filter((b) => b === null).length;
    if (empty > 0) warnings.push(`${empty} GT box(es) without a candidate detection (${detections.count} detection(s)): left empty`);
  }
  const ms = performance.now() - t0;
  const mask = boxesTo480p(boxes, image.width, image.height);
  return { png: encodeLabelPng(mask.labels, mask.width, mask.height, davisPalette()), ms, warnings };
}
