/**
 * `scanResults`: what the result viewer shows, gathered from folders without reading every frame:
 * the sequences (frame lists, the first mask's palette, size and objects), the J&F scores (DAVIS
 * evaluation when a DAVIS root is given, else the evaluation CSVs found beside the results) and,
 * for `stcn reproduce` output, the study's tables beside ours.
 *
 * Layouts of RESULTS understood:
 *  - a results folder: `RESULTS/<sequence>/<frame>.png` (what `stcn segment` / the evaluator use);
 *  - one sequence: `RESULTS/<frame>.png`;
 *  - `stcn demo` output: `RESULTS/masks/<seq>/`, frames from `RESULTS/frames/`, DAVIS root `RESULTS/davis/`;
 *  - `stcn reproduce` output: `RESULTS/table-N/<method>/<seq>/`, `RESULTS/report.json`.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { basename, extname, join, relative, resolve, sep } from "node:path";
import { evaluateDavis } from "../davis/evaluate.js";
import { StcnError } from "../errors.js";
import { davisPalette } from "../io/palette.js";
import { readLabelPng } from "../io/png.js";

/** The folders the viewer may read files from. */
export type ViewRoot = "results" | "davis" | "frames";

/** A file under one of the roots (`path` relative, `/`-separated). */
export interface ViewFile {
  root: ViewRoot;
  path: string;
}

/** One frame of a sequence: its result mask and, when known, its image. */
export interface ViewFrame {
  id: string;
  mask: ViewFile;
  image?: ViewFile;
}

/** One sequence of results. */
export interface ViewSequence {
  /** Unique key: `<group>/<name>` or `<name>`. */
  key: string;
  name: string;
  /** `table-2/maskrcnn` for reproduce output, "" otherwise. */
  group: string;
  width: number;
  height: number;
  /** 256 RGB triples, flattened: the colour of each id in the mask PNGs. */
  palette: number[];
  /** Object ids of the first result frame. */
  objects: number[];
  frames: ViewFrame[];
}

/** Scores of one object. */
export interface ViewScore {
  key: string;
  group: string;
  sequence: string;
  object: number;
  jf: number;
  j: number;
  f: number;
  /** Per-frame J (DAVIS evaluation only; first and last frames excluded as the protocol does). */
  perFrame?: { frames: string[]; j: number[] };
}

/** A study table: our J&F / J / F beside the study's, per method (percent). */
export interface ViewStudyTable {
  title: string;
  rows: Array<{ method: string; status: string; ours?: { jf: number; j: number; f: number }; study?: { jf: number; j: number; f: number } }>;
}

/** Everything the page shows (file references resolved to URLs or data by the server / static writer). */
export interface ViewIndex {
  title: string;
  roots: Partial<Record<ViewRoot, string>>;
  sequences: ViewSequence[];
  /** Where the scores come from: "DAVIS evaluation (<root>, set <set>)" or the CSV paths. */
  scoreSource?: string;
  scores: ViewScore[];
  study: ViewStudyTable[];
}

/** Options of {@link scanResults}. */
export interface ScanOptions {
  results: string;
  /** DAVIS root: frames (JPEGImages/480p) and ground truth for the scores. */
  davis?: string;
  /** Folder of `<sequence>/<frame>.jpg|png` frames (default: `RESULTS/frames` when present). */
  frames?: string;
  /** ImageSets list (default: the first list that names every sequence, `val` first). */
  set?: string;
}

const IMAGE_EXT = new Set([".jpg", ".jpeg", ".png"]);

async function isDir(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/** Entries of a folder (hidden ones skipped), sorted by name; links count as what they point to. */
async function entries(path: string): Promise<Array<{ name: string; dir: boolean }>> {
  let list;
  try {
    list = (await readdir(path, { withFileTypes: true })).filter((e) => !e.name.startsWith("."));
  } catch {
    return [];
  }
  const out = await Promise.all(
    list.map(async (e) => ({ name: e.name, dir: e.isDirectory() || (e.isSymbolicLink() && (await isDir(join(path, e.name)))) })),
  );
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

async function pngStems(dir: string): Promise<string[]> {
  return (await entries(dir)).filter((e) => !e.dir && extname(e.name).toLowerCase() === ".png").map((e) => basename(e.name, ".png"));
}

function rel(root: string, path: string): string {
  return relative(root, path).split(sep).join("/");
}

/** Sequence folders (with PNGs) of a results folder. */
async function sequenceDirs(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await entries(dir)) {
    if (e.dir && (await pngStems(join(dir, e.name))).length > 0) out.push(e.name);
  }
  return out;
}

async function imageFiles(dir: string | undefined): Promise<Map<string, string>> {
  const map = new Map<string, string>();
  if (!dir) return map;
  for (const e of await entries(dir)) {
    const ext = extname(e.name).toLowerCase();
    if (!e.dir && IMAGE_EXT.has(ext)) map.set(basename(e.name, extname(e.name)), e.name);
  }
  return map;
}

async function chooseSet(davis: string, names: readonly string[], wanted?: string): Promise<string> {
  if (wanted) return wanted;
  const listDir = join(davis, "ImageSets", "2017");
  const lists = (await entries(listDir)).filter((e) => e.name.endsWith(".txt")).map((e) => basename(e.name, ".txt"));
  lists.sort((a, b) => (a === "val" ? -1 : b === "val" ? 1 : a < b ? -1 : 1));
  for (const set of lists) {
    const listed = new Set((await readFile(join(listDir, `${set}.txt`), "utf8")).split(/\s+/).filter(Boolean));
    if (names.every((n) => listed.has(n))) return set;
  }
  throw new StcnError("ERR_STCN_INPUT", `no list in ${listDir} names every sequence of the results (${names.join(", ")}); pass --set`);
}

function parseCsv(text: string): string[][] {
  return text
    .trim()
    .split(/\r?\n/)
    .map((l) => l.split(","));
}

interface Group {
  name: string;
  dir: string;
  sequences: string[];
}

async function findGroups(results: string): Promise<{ groups: Group[]; kind: "results" | "demo" | "reproduce" | "sequence" }> {
  const tables = (await entries(results)).filter((e) => e.dir && /^table-\d+$/.test(e.name));
  if (tables.length > 0) {
    const groups: Group[] = [];
    for (const t of tables) {
      for (const m of await entries(join(results, t.name))) {
        if (!m.dir) continue;
        const dir = join(results, t.name, m.name);
        const sequences = (await sequenceDirs(dir)).filter((s) => s !== "first-frames");
        if (sequences.length > 0) groups.push({ name: `${t.name}/${m.name}`, dir, sequences });
      }
    }
    return { groups, kind: "reproduce" };
  }
  if ((await isDir(join(results, "masks"))) && (await isDir(join(results, "frames")))) {
    return { groups: [{ name: "", dir: join(results, "masks"), sequences: await sequenceDirs(join(results, "masks")) }], kind: "demo" };
  }
  const sequences = await sequenceDirs(results);
  if (sequences.length > 0) return { groups: [{ name: "", dir: results, sequences }], kind: "results" };
  if ((await pngStems(results)).length > 0) return { groups: [{ name: "", dir: results, sequences: [""] }], kind: "sequence" };
  return { groups: [], kind: "results" };
}

async function studyTables(results: string): Promise<ViewStudyTable[]> {
  let report: unknown;
  try {
    report = JSON.parse(await readFile(join(results, "report.json"), "utf8"));
  } catch {
    return [];
  }
  const r = report as { format?: string; tables?: Array<{ title?: string; rows?: Array<Record<string, unknown>> }> };
  if (typeof r.format !== "string" || !r.format.startsWith("stcn-study-report/") || !Array.isArray(r.tables)) return [];
  return r.tables.map((t) => ({
    title: String(t.title ?? ""),
    rows: (t.rows ?? []).map((row) => {
      const g = row.global as Record<string, number> | undefined;
      const p = row.published as { jf: number; j: number; f: number } | undefined;
      return {
        method: String(row.title ?? row.method ?? ""),
        status: String(row.status ?? ""),
        ...(g ? { ours: { jf: 100 * (g["J&F-Mean"] ?? NaN), j: 100 * (g["J-Mean"] ?? NaN), f: 100 * (g["F-Mean"] ?? NaN) } } : {}),
        ...(p ? { study: { jf: p.jf, j: p.j, f: p.f } } : {}),
      };
    }),
  }));
}

/**
 * Gathers the viewer's index. ERR_STCN_INPUT names the folder when RESULTS holds no results or a
 * root is missing; evaluation errors (missing ground truth, size mismatch) come from the evaluator.
 */
export async function scanResults(options: ScanOptions): Promise<ViewIndex> {
  const results = resolve(options.results);
  if (!(await isDir(results))) throw new StcnError("ERR_STCN_INPUT", `results folder not found: ${options.results}`);
  const { groups, kind } = await findGroups(results);
  if (groups.length === 0) throw new StcnError("ERR_STCN_INPUT", `no results in ${options.results}: expected <sequence>/<frame>.png folders`);
  let davis = options.davis ? resolve(options.davis) : undefined;
  let frames = options.frames ? resolve(options.frames) : undefined;
  if (kind === "demo") {
    frames ??= join(results, "frames");
    if (!davis && (await isDir(join(results, "davis", "Annotations")))) davis = join(results, "davis");
  }
  for (const [option, dir] of [["--davis", davis], ["--frames", frames]] as const) {
    if (dir && !(await isDir(dir))) throw new StcnError("ERR_STCN_INPUT", `${option} ${dir}: folder not found`);
  }
  const roots: Partial<Record<ViewRoot, string>> = { results, ...(davis ? { davis } : {}), ...(frames ? { frames } : {}) };

  const sequences: ViewSequence[] = [];
  for (const group of groups) {
    for (const name of group.sequences) {
      const dir = join(group.dir, name);
      const stems = await pngStems(dir);
      const seqName = name || basename(results);
      const fromFrames = frames ? await imageFiles(join(frames, seqName)) : new Map<string, string>();
      const fromDavis = davis && fromFrames.size === 0 ? await imageFiles(join(davis, "JPEGImages", "480p", seqName)) : new Map<string, string>();
      const first = await readLabelPng(join(dir, `${stems[0]}.png`));
      const seen = new Uint8Array(256);
      for (const v of first.data) seen[v] = 1;
      const objects = [...seen.keys()].filter((id) => id > 0 && seen[id]);
      const palette = (first.palette ?? davisPalette()).slice(0, 256).flat();
      while (palette.length < 768) palette.push(0);
      sequences.push({
        key: group.name ? `${group.name}/${seqName}` : seqName,
        name: seqName,
        group: group.name,
        width: first.width,
        height: first.height,
        palette,
        objects,
        frames: stems.map((id): ViewFrame => {
          const mask: ViewFile = { root: "results", path: rel(results, join(dir, `${id}.png`)) };
          const f = fromFrames.get(id);
          const d = fromDavis.get(id);
          if (f && frames) return { id, mask, image: { root: "frames", path: rel(frames, join(frames, seqName, f)) } };
          if (d && davis) return { id, mask, image: { root: "davis", path: rel(davis, join(davis, "JPEGImages", "480p", seqName, d)) } };
          return { id, mask };
        }),
      });
    }
  }

  const scores: ViewScore[] = [];
  let scoreSource: string | undefined;
  if (davis) {
    const sources: string[] = [];
    for (const group of groups) {
      const names = group.sequences.map((s) => s || basename(results));
      const set = await chooseSet(davis, names, options.set);
      const resultsPath = group.sequences[0] === "" ? join(group.dir, "..") : group.dir;
      const evaluation = await evaluateDavis({ davisRoot: davis, resultsPath, set, sequences: names, out: false });
      sources.push(set);
      const frameIds = new Map(evaluation.sequences.map((s) => [s.name, s.frameIds]));
      for (const o of evaluation.objects) {
        scores.push({
          key: group.name ? `${group.name}/${o.sequence}` : o.sequence,
          group: group.name,
          sequence: o.sequence,
          object: o.object,
          jf: (o.jMean + o.fMean) / 2,
          j: o.jMean,
          f: o.fMean,
          perFrame: { frames: frameIds.get(o.sequence) ?? [], j: Array.from(o.j) },
        });
      }
    }
    scoreSource = `DAVIS evaluation against ${davis} (set ${[...new Set(sources)].join(", ")})`;
  } else {
    const used: string[] = [];
    for (const group of groups) {
      const csv = (await entries(group.dir)).find((e) => !e.dir && /^per-sequence_results-.*\.csv$/.test(e.name));
      if (!csv) continue;
      const path = join(group.dir, csv.name);
      used.push(path);
      const [header, ...rows] = parseCsv(await readFile(path, "utf8"));
      const col = (name: string): number => header?.indexOf(name) ?? -1;
      const [cs, cj, cf] = [col("Sequence"), col("J-Mean"), col("F-Mean")];
      if (cs < 0 || cj < 0 || cf < 0) throw new StcnError("ERR_STCN_INPUT", `${path}: expected the columns Sequence, J-Mean, F-Mean`);
      for (const row of rows) {
        const m = /^(.*)_(\d+)$/.exec(row[cs] ?? "");
        if (!m) continue;
        const j = Number(row[cj]);
        const f = Number(row[cf]);
        const sequence = m[1] as string;
        scores.push({ key: group.name ? `${group.name}/${sequence}` : sequence, group: group.name, sequence, object: Number(m[2]), jf: (j + f) / 2, j, f });
      }
    }
    if (used.length > 0) scoreSource = used.join(", ");
  }

  const title = `stcn view: ${basename(results)}`;
  return { title, roots, sequences, ...(scoreSource ? { scoreSource } : {}), scores, study: await studyTables(results) };
}
