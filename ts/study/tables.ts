/**
 * The study's three tables: which first-frame methods each one has (in the study's row order) and the
 * numbers the study published, to be printed beside ours.
 */

/** The study's tables: 1 = DAVIS 2017 val with the manual first frame, 2 = DAVIS 2017 val with four
 * first-frame methods, 3 = 13 Something-Something videos with first frames from boxes. */
export type StudyTable = 1 | 2 | 3;
export const STUDY_TABLES: readonly StudyTable[] = [1, 2, 3];

/** First-frame methods: `gt` (the dataset's first mask or box), detectors matched to the GT objects,
 * LOST + CRF masks (Table 2) or LOST boxes (Table 3). */
export type StudyMethod = "gt" | "maskrcnn" | "pointrend" | "lost-crf" | "lost";
export const STUDY_METHODS: readonly StudyMethod[] = ["gt", "maskrcnn", "pointrend", "lost-crf", "lost"];

/** The model option a method needs besides STCN (none for `gt`). */
export type StudyModel = "maskrcnn" | "pointrend" | "dino";

/** A table's rows, in the study's order. */
export const TABLE_METHODS: Readonly<Record<StudyTable, readonly StudyMethod[]>> = {
  1: ["gt"],
  2: ["gt", "maskrcnn", "pointrend", "lost-crf"],
  3: ["gt", "maskrcnn", "pointrend", "lost"],
};

/** What each table is, in one line. */
export const TABLE_TITLES: Readonly<Record<StudyTable, string>> = {
  1: "Table 1: DAVIS 2017 val, manual (ground-truth) first frame",
  2: "Table 2: DAVIS 2017 val, first frame from GT / Mask R-CNN / PointRend / LOST + CRF",
  3: "Table 3: Something-Something videos, first frame from boxes, scored against box masks",
};

/** Human names of the methods, per table (LOST is a box in Table 3). */
export function methodTitle(table: StudyTable, method: StudyMethod): string {
  const names: Record<StudyMethod, string> = {
    gt: table === 3 ? "ground-truth boxes" : "ground truth",
    maskrcnn: table === 3 ? "Mask R-CNN box" : "Mask R-CNN",
    pointrend: table === 3 ? "PointRend box" : "PointRend",
    "lost-crf": "LOST + CRF",
    lost: "LOST box",
  };
  return names[method];
}

/** The model a method needs (undefined for gt). */
export function modelOf(method: StudyMethod): StudyModel | undefined {
  if (method === "gt") return undefined;
  if (method === "lost" || method === "lost-crf") return "dino";
  return method;
}

/** One published row, in percent (J&F, J, F) and frames per second. */
export interface PublishedRow {
  jf: number;
  j: number;
  f: number;
  /** The study's measured FPS (Colab GPU, model unnamed). */
  fps: number;
  /** STCN's paper FPS (RTX 2080 Ti), where the paper reports the row. */
  paperFps?: number;
}

/** The study's published numbers (its report; Table 1 and the GT row of Table 2 are STCN's s012 model). */
export const PUBLISHED: Readonly<Record<StudyTable, Partial<Record<StudyMethod, PublishedRow>>>> = {
  1: { gt: { jf: 85.3, j: 82.0, f: 88.6, fps: 16.9, paperFps: 20.2 } },
  2: {
    gt: { jf: 85.3, j: 82.0, f: 88.6, fps: 16.9 },
    maskrcnn: { jf: 69.9, j: 67.9, f: 72.0, fps: 17.0 },
    pointrend: { jf: 71.1, j: 68.6, f: 73.6, fps: 14.9 },
    "lost-crf": { jf: 25.7, j: 23.9, f: 27.6, fps: 19.9 },
  },
  3: {
    gt: { jf: 41.4, j: 53.0, f: 29.8, fps: 19.3 },
    maskrcnn: { jf: 29.2, j: 39.7, f: 18.8, fps: 25.8 },
    pointrend: { jf: 27.0, j: 35.1, f: 18.9, fps: 23.4 },
    lost: { jf: 17.2, j: 20.9, f: 13.5, fps: 28.8 },
  },
};

/** Columns of `table-N.csv`. */
export const TABLE_CSV_COLUMNS = ["method", "J&F-Mean", "J-Mean", "F-Mean", "FPS", "first-frame-ms"] as const;

/** True for 1, 2 or 3. */
export function isStudyTable(value: unknown): value is StudyTable {
  return value === 1 || value === 2 || value === 3;
}
