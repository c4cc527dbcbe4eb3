/**
 * stcn-node: semi-supervised video object segmentation (STCN) on LibTorch, from Node.js.
 *
 * Public API. Every native resource (Module, Tensor, ...) has `dispose()` and a finalizer.
 */
export { StcnError, isStcnError, type StcnErrorCode } from "./errors.js";
export { AbortError, isAbortError } from "./abort.js";
export { setMaxInFlight, getMaxInFlight, inFlightStats, type InFlightStats } from "./in-flight.js";
export { checkByteSize as parseByteSize } from "./check.js";
export { Tensor, type DType, type Device, type TensorData, type TypedArrayOf } from "./tensor.js";
export { Module, loadModule, type LoadModuleOptions, type ModuleRunOptions, type Value } from "./module.js";
export { setTrustedModelDir, getTrustedModelDir } from "./trust.js";
export { StcnIoError } from "./io/fs-errors.js";
export { checkPlainName } from "./check.js";
export {
  setNumThreads,
  getNumThreads,
  cudaAvailable,
  cudaDeviceCount,
  libtorchVersion,
  runtimeInfo,
  detectionOps,
  type RuntimeInfo,
  type DetectionOps,
} from "./runtime.js";
export { Stcn, type StcnLoadOptions } from "./stcn/stcn.js";
export {
  StcnTracker,
  type TrackOptions,
  type TrackedFrame,
  type TrackerStats,
  type TrackCallOptions,
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
export { labelIds, type LabelIdsOptions } from "./io/labels.js";
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
  DAVIS_VOID,
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
} from "./davis/boxes-to-davis.js";
export {
  lost,
  lostCrf,
  lostGraph,
  upsampleNearest,
  lostAnnotateFile,
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
  type LostAnnotateFileOptions,
  type LostAnnotateFileResult,
} from "./annotators/lost.js";
export {
  detectorAnnotator,
  detectorAnnotateFile,
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
  type DetectorAnnotateFileOptions,
  type DetectorAnnotateFileResult,
  type DetectorOutput,
  type DetectorMethod,
  type AnnotatedObject,
  type AnnotateOptions,
  type DetectOptions,
  type BoxRule,
  type ChannelOrder,
  type Box as DetectorBox,
} from "./annotators/detector.js";
export { runExporter, exporters, exporterArgs, type ExporterSpec, type ExporterOption, type RunExporterOptions } from "./export.js";
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
// The whole study (Tables 1-3), resumable units with done markers, the report and its chart.
export {
  reproduceStudy,
  planStudy,
  type StudyPlan,
  type ReproduceStudyOptions,
  type StudyEvent,
  type StudyResult,
  type PlannedUnit,
} from "./study/study.js";
export {
  runStudyUnit,
  firstRecord,
  type StudySource,
  type StudyUnit,
  type StudyUnitContext,
  type StudyUnitOutcome,
} from "./study/unit.js";
export {
  UNIT_MARKER_FORMAT,
  unitKey,
  methodDir,
  markerPath,
  readUnitMarker,
  doneUnit,
  writeUnitMarker,
  type UnitConfig,
  type UnitMarker,
} from "./study/marker.js";
export {
  buildStudyReport,
  writeStudyReport,
  reportMarkdown,
  tableCsv,
  chartData,
  type StudyRow,
  type Table1Row,
  type Table2Row,
  type Table3Row,
  type StudyTableReport,
  type StudyReport,
  type SequenceScore,
  type ReportEvent,
} from "./study/report.js";
export { readManifest, sha256File, STUDY_MANIFEST_FORMAT, type StudyManifest, type PlannedTable, type PlannedMethod, type StudyEnvironment, type ModelFile } from "./study/manifest.js";
export {
  STUDY_TABLES,
  STUDY_METHODS,
  TABLE_METHODS,
  TABLE_TITLES,
  TABLE_CSV_COLUMNS,
  PUBLISHED,
  methodTitle,
  type StudyTable,
  type StudyMethod,
  type StudyModel,
  type PublishedRow,
} from "./study/tables.js";
export { maskFirstFrame, boxFirstFrame, matchedDetectionBoxes, boxesTo480p, type FirstFrame } from "./study/first-frame.js";
export { renderBarChartSvg, type BarDatum, type BarChartOptions } from "./study/chart.js";
// The study on many machines: units as BullMQ jobs on Redis, workers, status, wait.
export {
  submitRun,
  runWorker,
  runStatus,
  waitRun,
  payloadProblem,
  redactRedisUrl,
  QUEUE_DEFAULTS,
  RUN_RECORD_FORMAT,
  type SubmitRunOptions,
  type SubmitRunResult,
  type RunWorkerOptions,
  type WorkerEvent,
  type WorkerSummary,
  type RunStatus,
  type RunJob,
  type JobState,
  type WaitEvent,
  type WaitRunResult,
  type RunRecord,
  type UnitJobData,
  type UnitJobResult,
} from "./queue/queue.js";
export { boxLabelMap, type PixelBox } from "./annotators/box-label-map.js";
export { probeVideo, type VideoInfo } from "./video/probe.js";
export { decodeVideo, resolveRange, type DecodeVideoOptions, type DecodedFrame, type FrameRange, type ResolvedRange } from "./video/decode.js";
export { VideoWriter, checkVideoOutput, VIDEO_EXTENSIONS, type VideoKind, type VideoWriterOptions } from "./video/encode.js";
export {
  segmentVideo,
  DEFAULT_VIDEO_MEMORY_BUDGET,
  videoFrameName,
  type SegmentVideoOptions,
  type SegmentVideoResult,
  type VideoTrackedFrame,
} from "./video/segment.js";
export { overlayLabels, type OverlayOptions } from "./io/overlay.js";
export { ffmpegPath, ffprobePath } from "./video/ffmpeg.js";
export {
  scanResults,
  type ScanOptions,
  type ViewIndex,
  type ViewSequence,
  type ViewFrame,
  type ViewFile,
  type ViewRoot,
  type ViewScore,
  type ViewStudyTable,
} from "./view/scan.js";
export {
  startViewServer,
  writeViewReport,
  resolveServedFile,
  type ViewServer,
  type ViewServerOptions,
  type ViewReportResult,
} from "./view/server.js";
export { renderFrameChartSvg, type FramePoint } from "./view/chart.js";
