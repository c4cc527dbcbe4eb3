/**
 * The units of work of the evaluator, run on worker threads (worker.ts) or inline: read and decode
 * the PNGs of a few frames, then score them. Everything here is plain data in, plain data out.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { StcnError, isStcnError } from "../errors.js";
import { decodeDavisMask, decodeDavisMaskPadded, objectIdsOfMask } from "./reader.js";
import { ExtraObjectError, FrameScratch, evaluateFrame, paddedStride } from "./metrics.js";

/** Reads the first annotation of a sequence: object count and frame size. */
export interface HeaderTask {
  kind: "header";
  sequence: string;
  path: string;
}

export interface HeaderResult {
  objects: number;
  width: number;
  height: number;
}

/** Scores consecutive evaluated frames of one sequence. */
export interface ChunkTask {
  kind: "chunk";
  sequence: string;
  /** Objects of the sequence (1..objects). */
  objects: number;
  width: number;
  height: number;
  /** `<results>/<sequence>` */
  resultsDir: string;
  frameIds: string[];
  gtPaths: string[];
}

export interface ChunkResult {
  /** Per frame, per object: `j[frame * objects + (k - 1)]`. */
  j: Float64Array;
  f: Float64Array;
}

export type Task = HeaderTask | ChunkTask;
export type TaskResult = HeaderResult | ChunkResult;

/** The official toolkit's message for results with more objects than the ground truth. */
export const EXTRA_OBJECT_MESSAGE = "In your PNG files there is an index higher than the number of objects in the sequence!";

function readBytes(path: string, missing: () => string): Buffer {
  try {
    // A blocking read: a label PNG is a few kB, and the thread-pool round trips of an async read cost
    // more than the read itself. Inline runs (workers: 0) block their thread for the decode and the
    // scoring anyway.
    return readFileSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "EISDIR" || code === "ENOTDIR") throw new StcnError("ERR_STCN_INPUT", missing());
    throw new StcnError("ERR_STCN_INPUT", `cannot read ${path}: ${code ?? (error as Error).message}`);
  }
}

function decode(bytes: Uint8Array, path: string, where: string, into?: Uint8Array) {
  try {
    return into ? decodeDavisMaskPadded(bytes, path, into) : decodeDavisMask(bytes, path);
  } catch (error) {
    throw new StcnError(isStcnError(error) ? error.code : "ERR_STCN_INPUT", `${where}: ${(error as Error).message}`);
  }
}

let scratch: FrameScratch | undefined;

/** Runs one task (on whatever thread calls it). Errors are StcnErrors naming sequence and frame. */
export function runTask(task: Task): TaskResult {
  if (task.kind === "header") {
    const bytes = readBytes(task.path, () => `sequence ${task.sequence}: first annotation ${task.path} is missing`);
    const mask = decode(bytes, task.path, `sequence ${task.sequence}, first annotation`);
    return { objects: objectIdsOfMask(mask.data).count, width: mask.width, height: mask.height };
  }
  const { sequence, objects, width, height } = task;
  const n = task.frameIds.length;
  const j = new Float64Array(n * objects);
  const f = new Float64Array(n * objects);
  const jFrame = new Float64Array(objects);
  const fFrame = new Float64Array(objects);
  scratch ??= new FrameScratch();
  // Both maps of every frame are decoded into the same two padded buffers, read in place by the scorer.
  scratch.prepare(objects, width, height);
  const stride = paddedStride(width);
  for (let i = 0; i < n; i++) {
    const frameId = task.frameIds[i] as string;
    const gtPath = task.gtPaths[i] as string;
    const where = `sequence ${sequence}, frame ${frameId}`;
    const resPath = join(task.resultsDir, `${frameId}.png`);
    const gtBytes = readBytes(gtPath, () => `${where}: annotation ${gtPath} is missing`);
    const resBytes = readBytes(resPath, () => `${where}: result ${resPath} is missing`);
    const gt = decode(gtBytes, gtPath, `${where} (annotation)`, scratch.gtPad);
    if (gt.width !== width || gt.height !== height) {
      throw new StcnError("ERR_STCN_INPUT", `${where}: annotation is ${gt.width}x${gt.height} but the first annotation is ${width}x${height} (${gtPath})`);
    }
    const res = decode(resBytes, resPath, `${where} (result)`, scratch.resPad);
    if (res.width !== width || res.height !== height) {
      throw new StcnError("ERR_STCN_INPUT", `${where}: result is ${res.width}x${res.height} but the annotation is ${width}x${height} (${resPath})`);
    }
    try {
      evaluateFrame(gt.data, res.data, width, height, objects, jFrame, fFrame, scratch, stride);
    } catch (error) {
      if (error instanceof ExtraObjectError) {
        throw new StcnError(
          "ERR_STCN_INPUT",
          `${where}: ${EXTRA_OBJECT_MESSAGE} (index ${error.label}, the ground truth has ${objects} object(s); ${resPath})`,
        );
      }
      throw error;
    }
    j.set(jFrame, i * objects);
    f.set(fFrame, i * objects);
  }
  return { j, f };
}

/** A task error as plain data (to cross the worker boundary). */
export interface SerializedError {
  message: string;
  code?: string;
  stack?: string;
}

export function serializeError(error: unknown): SerializedError {
  if (error instanceof Error) {
    return { message: error.message, code: isStcnError(error) ? error.code : undefined, stack: error.stack };
  }
  return { message: String(error) };
}

export function deserializeError(e: SerializedError): Error {
  if (e.code && e.code.startsWith("ERR_STCN_")) {
    return new StcnError(e.code as ConstructorParameters<typeof StcnError>[0], e.message);
  }
  const error = new Error(e.message);
  if (e.stack) error.stack = e.stack;
  return error;
}
