/**
 * The DAVIS palette: the PASCAL-VOC bit-interleaved colour map (index 1 = (128,0,0), 2 = (0,128,0),
 * 3 = (128,128,0), 4 = (0,0,128), ...), byte for byte the `color_map()` of the DAVIS 2017 toolkit.
 */

/** 256 RGB triples. */
export type Palette = Array<[number, number, number]>;

function bit(value: number, index: number): number {
  return (value >> index) & 1;
}

/** The DAVIS / PASCAL-VOC palette (256 entries). */
export function davisPalette(): Palette {
  const out: Palette = [];
  for (let i = 0; i < 256; i++) {
    let r = 0;
    let g = 0;
    let b = 0;
    let c = i;
    for (let j = 0; j < 8; j++) {
      r |= bit(c, 0) << (7 - j);
      g |= bit(c, 1) << (7 - j);
      b |= bit(c, 2) << (7 - j);
      c >>= 3;
    }
    out.push([r, g, b]);
  }
  return out;
}
