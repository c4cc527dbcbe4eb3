/**
 * First frames from boxes: objects' boxes filled as a label map the way `stcn boxes-to-davis` fills
 * Something-Else boxes (int() truncation, exclusive ends, Python slice bounds, later objects on top).
 */
import { boxMask } from "../davis/boxes-to-davis.js";
import { StcnError } from "../errors.js";

/** A box `[x0, y0, x1, y1]` in pixels. */
export type PixelBox = readonly [number, number, number, number];

/**
 * Label map of `width` x `height` where each object's box holds its id; objects are painted in the
 * given order (a later box overwrites an earlier one), a null box paints nothing. With ids 1..n in
 * order this equals the box mask boxes-to-davis computes for the same boxes.
 */
export function boxLabelMap(objects: ReadonlyArray<{ id: number; box: PixelBox | null }>, width: number, height: number): Uint8Array {
  const out = new Uint8Array(width * height);
  for (const { id, box } of objects) {
    if (!Number.isInteger(id) || id < 1 || id > 255) throw new StcnError("ERR_STCN_ARGUMENT", `object id must be an integer in [1, 255], got ${id}`);
    if (!box) continue;
    const [x1, y1, x2, y2] = box;
    const one = boxMask([{ box2d: { x1, y1, x2, y2 } }], width, height);
    for (let i = 0; i < one.length; i++) if (one[i]) out[i] = id;
  }
  return out;
}
