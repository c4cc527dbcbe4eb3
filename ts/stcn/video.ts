/** Video folders: frames (sorted by name) and per-frame masks matched by file stem. */
import { readdir, stat } from "node:fs/promises";
import { basename, extname, join } from "node:path";
import { StcnError } from "../errors.js";

const FRAME_EXTENSIONS = new Set([".jpg", ".jpeg", ".png"]);

/** One frame file of a video folder. */
export interface VideoFrame {
  /** The file name without extension (`00005`). */
  stem: string;
  path: string;
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/** The *.jpg / *.jpeg / *.png files of `dir`, sorted by name. ERR_STCN_INPUT when none. */
export async function listFrames(dir: string): Promise<VideoFrame[]> {
  if (!(await isDirectory(dir))) throw new StcnError("ERR_STCN_INPUT", `frames folder not found: ${dir}`);
  const names = (await readdir(dir)).filter((n) => FRAME_EXTENSIONS.has(extname(n).toLowerCase())).sort();
  if (names.length === 0) throw new StcnError("ERR_STCN_INPUT", `no .jpg/.jpeg/.png frames in ${dir}`);
  const frames = names.map((n) => ({ stem: basename(n, extname(n)), path: join(dir, n) }));
  const seen = new Map<string, string>();
  for (const f of frames) {
    const other = seen.get(f.stem);
    if (other) throw new StcnError("ERR_STCN_INPUT", `two frames share the name ${f.stem}: ${other} and ${f.path}`);
    seen.set(f.stem, f.path);
  }
  return frames;
}

/**
 * The `<stem>.png` masks of `dir`, by frame index. A mask whose frame does not exist is refused
 * (ERR_STCN_INPUT naming both), so a missing frame never goes unnoticed.
 */
export async function matchMasks(dir: string, frames: readonly VideoFrame[]): Promise<Map<number, string>> {
  if (!(await isDirectory(dir))) throw new StcnError("ERR_STCN_INPUT", `masks folder not found: ${dir}`);
  const indexOf = new Map(frames.map((f, i) => [f.stem, i]));
  const out = new Map<number, string>();
  for (const name of (await readdir(dir)).sort()) {
    if (extname(name).toLowerCase() !== ".png") continue;
    const stem = basename(name, extname(name));
    const index = indexOf.get(stem);
    if (index === undefined) {
      throw new StcnError("ERR_STCN_INPUT", `mask ${join(dir, name)} has no frame ${stem}.* in the frames folder (missing frame?)`);
    }
    out.set(index, join(dir, name));
  }
  return out;
}

/**
 * The frame an annotator works on: `frames` itself when it is a file, else the first frame of the
 * folder in the order `stcn segment` propagates ({@link listFrames}).
 */
export async function firstFrame(frames: string): Promise<string> {
  let info;
  try {
    info = await stat(frames);
  } catch (error) {
    throw new StcnError("ERR_STCN_INPUT", `--frames ${frames}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  if (!info.isDirectory()) return frames;
  return ((await listFrames(frames))[0] as VideoFrame).path;
}
