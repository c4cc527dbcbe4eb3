/**
 * @internal Types of the native STCN surface (binding/stcn_session.cc). Public code uses
 * {@link Stcn} / {@link StcnTracker} (ts/stcn/stcn.ts, ts/stcn/tracker.ts).
 */

/** @internal A loaded STCN model (TorchScript module with encode_key / encode_value / decode). */
export interface NativeStcnModel {
  readonly device: string;
  readonly path: string;
  readonly metadata: string | null;
  readonly optimization: string;
  readonly half: boolean;
  readonly disposed: boolean;
  dispose(): void;
}

/** @internal One video's native state: memory bank + current frame features. */
export interface NativeStcnSession {
  readonly objects: number;
  readonly memoryFrames: number;
  /** The memory bank's bytes after the last memorize (keys, values and the read concatenations). */
  readonly memoryBytes: number;
  readonly workingSize: { width: number; height: number };
  readonly disposed: boolean;
  encodeFrame(rgb: Uint8Array, width: number, height: number): Promise<void>;
  segment(): Promise<void>;
  /** Resolves with the ids actually added (those with pixels at the working size). */
  addObjects(labels: Uint8Array, width: number, height: number, ids: number[], resize: boolean): Promise<number[]>;
  memorize(kind: "permanent" | "regular" | "temporary"): Promise<void>;
  labels(ids: number[], withProbs: boolean): Promise<{ labels: Uint8Array; probs?: Float32Array }>;
  dispose(): void;
}

/** @internal `new StcnSession(model, topK, maxMemoryFrames, size, memoryBudget)` (memoryBudget in bytes, 0 = none). */
export type NativeStcnSessionClass = new (model: NativeStcnModel, topK: number, maxMemoryFrames: number, size: number, memoryBudget: number) => NativeStcnSession;
