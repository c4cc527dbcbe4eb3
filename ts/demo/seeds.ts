import { StcnError } from "../errors.js";

/** Parses seeds given as "A-B" (inclusive range) or "a,b,c" (integers >= 0). ERR_STCN_ARGUMENT otherwise. */
export function parseSeeds(text: string): number[] {
  const range = /^(\d+)-(\d+)$/.exec(text.trim());
  if (range) {
    const a = Number(range[1]);
    const b = Number(range[2]);
    if (b < a) throw new StcnError("ERR_STCN_ARGUMENT", `seed range ${text} is empty`);
    if (b - a >= 100000) throw new StcnError("ERR_STCN_ARGUMENT", `seed range ${text} is too long (at most 100000 clips)`);
    return Array.from({ length: b - a + 1 }, (_, i) => a + i);
  }
  const seeds = text.split(",").map((s) => (s.trim() === "" ? NaN : Number(s.trim())));
  if (seeds.some((s) => !Number.isInteger(s) || s < 0 || s > 2 ** 31 - 1)) {
    throw new StcnError("ERR_STCN_ARGUMENT", `seeds must be A-B or a comma list of integers >= 0, got "${text}"`);
  }
  return seeds;
}
