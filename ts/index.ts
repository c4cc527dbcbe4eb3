/**
 * stcn-node: semi-supervised video object segmentation (STCN) on LibTorch, from Node.js.
 *
 * Public API. Every native resource (Module, Tensor, ...) has `dispose()` and a finalizer.
 */
export { StcnError, isStcnError, type StcnErrorCode } from "./errors.js";
export { Tensor, type DType, type Device, type TensorData, type TypedArrayOf } from "./tensor.js";
export { Module, loadModule, type LoadModuleOptions, type Value } from "./module.js";
export {
  setNumThreads,
  getNumThreads,
  cudaAvailable,
  cudaDeviceCount,
  libtorchVersion,
  runtimeInfo,
  type RuntimeInfo,
} from "./runtime.js";
export { native } from "./native.js";
export { Stcn, type StcnLoadOptions } from "./stcn/stcn.js";
export {
  StcnTracker,
  type TrackOptions,
  type TrackedFrame,
  type TrackerStats,
  type FrameInput,
  type FrameItem,
  type FrameSource,
  type MaskSource,
} from "./stcn/tracker.js";
export { segmentFolder, type SegmentFolderOptions, type SegmentFolderResult } from "./stcn/segment.js";
export { listFrames, matchMasks, firstFrame, type VideoFrame } from "./stcn/video.js";
export { readRgb, encodeRgb, type RgbImage } from "./io/image.js";
export {
  readLabelPng,
  decodeLabelPng,
  writeLabelPng,
  encodeLabelPng,
  encodeGreyPng,
  setMaxImagePixels,
  getMaxImagePixels,
  DEFAULT_MAX_IMAGE_PIXELS,
  type LabelMap,
} from "./io/png.js";
export { davisPalette, type Palette } from "./io/palette.js";
export {
  reproduceDavis,
  formatReproduceTable,
  FIRST_FRAME_METHODS,
  type FirstFrameMethod,
  type ReproduceDavisOptions,
  type ReproduceRow,
  type ReproduceResult,
} from "./reproduce.js";
export {
  denseCrf,
  refineMaskWithCrf,
  unaryFromLabels,
  unaryFromProbabilities,
  unaryFromEnergy,
  permutohedralFilter,
  STUDY_CRF,
  type DenseCrfOptions,
  type DenseCrfResult,
  type DenseCrfTiming,
  type CrfUnary,
  type CrfNormalization,
  type GaussianKernelOptions,
  type BilateralKernelOptions,
  type PermutohedralFilterOptions,
} from "./crf.js";
export {
  evaluateDavis,
  formatDavisTables,
  globalResultsCsv,
  perSequenceResultsCsv,
  GLOBAL_COLUMNS,
  type EvaluateDavisOptions,
  type DavisEvaluation,
  type DavisGlobalResults,
  type DavisObjectResult,
  type DavisSequenceResult,
} from "./davis/evaluate.js";
export {
  openDavis,
  readDavisMask,
  decodeDavisMask,
  davisObjectIds,
  frameIdOf,
  type DavisDataset,
  type DavisSequence,
  type DavisResolution,
  type DavisTask,
  type OpenDavisOptions,
} from "./davis/reader.js";
export { regionJ, boundaryF, boundaryMap, boundaryRadius, type BoundaryScore } from "./davis/metrics.js";
export { dbStatistics, decayBinIds, type ObjectStatistics } from "./davis/statistics.js";
export {
  boxesToDavis,
  boxMask,
  pilNearestResize,
  davis480pSize,
  parseSomethingElseAnnotations,
  readSomethingElseAnnotations,
  type BoxesToDavisOptions,
  type BoxesToDavisResult,
  type SomethingElseAnnotations,
  type SomethingElseFrame,
  type SomethingElseLabel,
} from "./davis/something-else.js";
export {
  lost,
  lostCrf,
  lostGraph,
  upsampleNearest,
  runLostAnnotate,
  lostAnnotateOptions,
  LOST_CRF_DEFAULTS,
  type LostOptions,
  type LostResult,
  type LostCrfOptions,
  type LostCrfResult,
  type LostFeature,
  type LostObject,
  type LostGeometry,
  type LostGraphOptions,
  type LostGraphResult,
  type LostAnnotateArgs,
} from "./annotators/lost.js";
export {
  detectorAnnotator,
  runDetectorAnnotate,
  detectorAnnotateOptions,
  gtBox,
  matchBoxes,
  boxDistance,
  candidateCount,
  detectionMask,
  composeLabelMap,
  STUDY_CANDIDATE_SCORE,
  DETECTOR_MASK_THRESHOLD,
  DETECTOR_NO_GT_SCORE,
  type DetectorAnnotator,
  type DetectorAnnotatorOptions,
  type DetectorAnnotation,
  type DetectorAnnotateArgs,
  type DetectorOutput,
  type DetectorMethod,
  type AnnotatedObject,
  type AnnotateOptions,
  type BoxRule,
  type ChannelOrder,
  type Box as DetectorBox,
} from "./annotators/detector.js";
export { runExporter, exporters, type ExporterSpec, type RunExporterOptions } from "./cli/export.js";
export {
  generateClip,
  generateDavisRoot,
  writeDavisClip,
  clipName,
  DEFAULT_CLIP,
  type GenerateOptions,
  type GeneratedClip,
  type GenerateRootOptions,
} from "./demo/generator.js";
export { runDemo, demoSummary, DEMO_MODEL_PATH, DEMO_DEFAULT_SEED, type DemoOptions, type DemoResult, type DemoClip } from "./demo/demo.js";
