/**
 * Checks of user input, written once. Every value that comes from a caller (options, images, label
 * maps) is checked here, at the TypeScript boundary, before anything reaches the addon: the binding
 * only reads values it is given, and the engine asserts its own invariants (a failure there is an
 * ERR_STCN_INTERNAL bug report, never a user mistake). See docs/architecture.md.
 *
 * One message style: `<name> must be <expectation>, got <value>`, with ERR_STCN_ARGUMENT. (Files that
 * cannot be read or decoded are ERR_STCN_INPUT, raised where they are read.)
 */
import { StcnError } from "./errors.js";

/** The error of a wrong argument: `<name> must be <expected>, got <value>`. */
export function invalid(name: string, expected: string, value: unknown): StcnError {
  const shown = typeof value === "string" ? JSON.stringify(value) : String(value);
  return new StcnError("ERR_STCN_ARGUMENT", `${name} must be ${expected}, got ${shown}`);
}

/** An integer in [min, max] (max unbounded by default). */
export function checkInteger(value: unknown, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(name, max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer in [${min}, ${max}]`, value);
  }
  return value;
}

/** A finite number. */
export function checkFinite(value: unknown, name: string): number {
  if (typeof value !== "number" || !Number.isFinite(value)) throw invalid(name, "a finite number", value);
  return value;
}

/** A finite number > 0. */
export function checkPositive(value: unknown, name: string): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) throw invalid(name, "a positive finite number", value);
  return value;
}

/**
 * A number in an interval: `low`/`high` bounds, open (excluded) unless `closed` says which end is
 * included: "low", "high" or "both".
 */
export function checkInterval(value: unknown, name: string, low: number, high: number, closed: "none" | "low" | "high" | "both" = "none"): number {
  const lowOk = closed === "low" || closed === "both";
  const highOk = closed === "high" || closed === "both";
  const ok =
    typeof value === "number" && (lowOk ? value >= low : value > low) && (highOk ? value <= high : value < high);
  if (!ok) throw invalid(name, `in ${lowOk ? "[" : "("}${low}, ${high}${highOk ? "]" : ")"}`, value);
  return value;
}

/** One of `choices`. */
export function checkOneOf<T extends string | number>(value: unknown, name: string, choices: readonly T[]): T {
  if (!choices.includes(value as T)) throw invalid(name, `one of ${choices.join(", ")}`, value);
  return value as T;
}

/** Every element finite (features, probabilities handed to the engine). */
export function checkFiniteArray(values: Float32Array, name: string, groupSize = 1, group = "element"): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i] as number)) {
      const where = groupSize > 1 ? `${group} ${Math.floor(i / groupSize)}` : `index ${i}`;
      throw invalid(`${name} (${where})`, "finite", values[i]);
    }
  }
}

/** A packed RGB image in memory: positive integer size and `width*height*3` bytes. */
export interface RgbLike {
  data: Uint8Array;
  width: number;
  height: number;
}

/**
 * An RGB image in memory (`data[(y * width + x) * 3 + c]`): a Uint8Array of exactly width*height*3
 * bytes. `name` names it in the message (e.g. "image", "frame 3").
 */
export function checkRgbImage<T extends RgbLike>(image: T, name: string): T {
  if (!image || typeof image !== "object") throw invalid(name, "an RGB image { data: Uint8Array, width, height }", image);
  checkInteger(image.width, `${name}.width`, 1);
  checkInteger(image.height, `${name}.height`, 1);
  if (!(image.data instanceof Uint8Array)) throw invalid(`${name}.data`, "a Uint8Array of packed RGB bytes", image.data);
  const expected = image.width * image.height * 3;
  if (image.data.length !== expected) {
    throw new StcnError(
      "ERR_STCN_ARGUMENT",
      `${name}.data has ${image.data.length} bytes, expected ${image.width}x${image.height}x3 = ${expected} (packed RGB)`,
    );
  }
  return image;
}

/** A label map in memory: positive integer size and `width*height` one-byte labels. */
export function checkLabelMap<T extends RgbLike>(map: T, name: string): T {
  if (!map || typeof map !== "object") throw invalid(name, "a label map { data: Uint8Array, width, height }", map);
  checkInteger(map.width, `${name}.width`, 1);
  checkInteger(map.height, `${name}.height`, 1);
  if (!(map.data instanceof Uint8Array)) throw invalid(`${name}.data`, "a Uint8Array of labels", map.data);
  const expected = map.width * map.height;
  if (map.data.length !== expected) {
    throw new StcnError("ERR_STCN_ARGUMENT", `${name}.data has ${map.data.length} labels, expected ${map.width}x${map.height} = ${expected}`);
  }
  return map;
}

/**
 * Labels against a CRF's label count: 0..nLabels-1, or with `zeroUnsure` 0 (unsure) and 1..nLabels.
 * `width` given: the offending pixel is named `pixel (x X, y Y)`, else `index I`.
 */
export function checkLabelRange(labels: Uint8Array, nLabels: number, zeroUnsure: boolean, width?: number): void {
  const limit = zeroUnsure ? nLabels : nLabels - 1;
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i] as number;
    if (label > limit) {
      const where = width ? `pixel (x ${i % width}, y ${Math.floor(i / width)})` : `index ${i}`;
      throw new StcnError(
        "ERR_STCN_ARGUMENT",
        `label ${label} at ${where} is out of range: with nLabels ${nLabels}` +
          (zeroUnsure ? ` and zeroUnsure, labels are 0 (unsure) or 1..${nLabels}` : `, labels are 0..${nLabels - 1}`),
      );
    }
  }
}

/**
 * A name that comes from data and becomes one path component (a DAVIS sequence name from an
 * ImageSets list, a Something-Else video key, an ImageSets set name): a plain, non-empty name
 * without `/`, `\`, `..` or NUL, so that `join(out, name)` stays inside `out`. Refused with
 * ERR_STCN_UNSAFE_NAME naming `what` (where it came from), before anything is written.
 */
export function checkPlainName(value: unknown, what: string): string {
  if (typeof value !== "string" || value === "" || value === "." || value.includes("..") || /[/\\\0]/.test(value)) {
    const shown = typeof value === "string" ? JSON.stringify(value).replace(/\\u0000/g, "\\0") : String(value);
    throw new StcnError("ERR_STCN_UNSAFE_NAME", `${what} must be a plain name (not empty, no "/", "\\", ".." or NUL), got ${shown}`);
  }
  return value;
}

const BYTE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

/**
 * A size in bytes: a non-negative integer, or a string such as "2GiB", "512 MiB", "1.5GB", "4096"
 * (units B, kB/MB/GB/TB = powers of 1000, KiB/MiB/GiB/TiB = powers of 1024, case-insensitive).
 * Returns whole bytes (rounded down).
 */
export function checkByteSize(value: unknown, name: string): number {
  const expected = 'a size in bytes: an integer >= 0 or a string such as "512MiB" or "2GiB"';
  if (typeof value === "number") return checkInteger(value, name, 0);
  if (typeof value !== "string") throw invalid(name, expected, value);
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(value);
  const unit = BYTE_UNITS[(match?.[2] || "b").toLowerCase()];
  if (!match || unit === undefined) throw invalid(name, expected, value);
  const bytes = Math.floor(Number(match[1]) * unit);
  if (!Number.isSafeInteger(bytes)) throw invalid(name, expected, value);
  return bytes;
}
