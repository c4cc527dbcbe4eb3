/**
 * DAVIS 2017 region (J) and boundary (F) measures, computed exactly as the official toolkit
 * (davisvideochallenge/davis2017-evaluation, `davis2017/metrics.py`) does, on label maps held in typed
 * arrays with no per-pixel allocation.
 *
 * - J = |S ∩ G| / |S ∪ G|, and 1 when the union is empty.
 * - F: boundary maps by `_seg2bmap` (a pixel is on the boundary when it differs from its right, lower or
 *   lower-right neighbour, outside = 0; the last row only looks right, the last column only down, the
 *   bottom-right pixel is never boundary); a boundary pixel is matched when a boundary pixel of the
 *   other mask lies within the disk x² + y² ≤ r², r = ceil(0.008 · sqrt(H² + W²)) (what
 *   `cv2.dilate(b, skimage.morphology.disk(r))` followed by the AND computes); P/R special cases
 *   (no fg boundary → P = 1, R = 0; no gt boundary → P = 0, R = 1; neither → 1, 1), F = 2PR / (P + R) or 0.
 *
 * Instead of dilating whole images, boundaries are extracted inside each object's bounding box into
 * row-sorted coordinate lists, and each boundary pixel looks for a partner in the (2r + 1) rows of
 * the other list by binary search: the same counts as the dilation, in time proportional to the
 * object size.
 */
import { StcnError } from "../errors.js";

/** Boundary tolerance in pixels of the official toolkit: `ceil(0.008 · sqrt(H² + W²))`. */
export function boundaryRadius(width: number, height: number, boundTh = 0.008): number {
  if (boundTh >= 1) return boundTh;
  return Math.ceil(boundTh * Math.sqrt(height * height + width * width));
}

/** Half-widths of the disk rows: `hw[|dy|]` = largest w with w² + dy² ≤ r² (skimage `disk(r)`). */
export function diskHalfWidths(radius: number): Int32Array {
  const r = Math.floor(radius);
  const hw = new Int32Array(r + 1);
  const r2 = radius * radius;
  for (let dy = 0; dy <= r; dy++) {
    let w = 0;
    while ((w + 1) * (w + 1) + dy * dy <= r2) w++;
    hw[dy] = w;
  }
  return hw;
}

/**
 * Boundary pixels of one label, in scan order (row by row, x increasing), with a row index built by
 * {@link BoundaryList.index} for neighbourhood queries.
 */
export class BoundaryList {
  xs: Uint16Array;
  ys: Uint16Array;
  count = 0;
  /** After index(): entries of row y are `rowStart[y - y0]` .. `rowStart[y - y0 + 1]`. */
  rowStart: Int32Array = new Int32Array(1);
  y0 = 0;
  y1 = -1;

  constructor(capacity = 1024) {
    this.xs = new Uint16Array(capacity);
    this.ys = new Uint16Array(capacity);
  }

  clear(): void {
    this.count = 0;
    this.y0 = 0;
    this.y1 = -1;
  }

  /** Doubles the capacity. */
  grow(): void {
    const xs = new Uint16Array(this.xs.length * 2);
    const ys = new Uint16Array(this.ys.length * 2);
    xs.set(this.xs);
    ys.set(this.ys);
    this.xs = xs;
    this.ys = ys;
  }

  push(x: number, y: number): void {
    if (this.count === this.xs.length) this.grow();
    this.xs[this.count] = x;
    this.ys[this.count++] = y;
  }

  /** Builds the row index (entries must be in scan order). */
  index(): void {
    const n = this.count;
    if (n === 0) {
      this.y0 = 0;
      this.y1 = -1;
      return;
    }
    const y0 = this.ys[0] as number;
    const y1 = this.ys[n - 1] as number;
    const rows = y1 - y0 + 1;
    if (this.rowStart.length < rows + 1) this.rowStart = new Int32Array(Math.max(rows + 1, 2 * this.rowStart.length));
    const rs = this.rowStart;
    let i = 0;
    for (let r = 0; r < rows; r++) {
      rs[r] = i;
      const y = y0 + r;
      while (i < n && this.ys[i] === y) i++;
    }
    rs[rows] = n;
    this.y0 = y0;
    this.y1 = y1;
  }
}

function add(lists: readonly BoundaryList[], v: number, objects: number, x: number, y: number): void {
  if (v !== 0 && v <= objects) (lists[v] as BoundaryList).push(x, y);
}

/**
 * One pass over a label map: the `_seg2bmap` boundary of every mask `labels == k`, k = 1..objects,
 * into `lists[k]` (cleared first). Labels 0, 255 and above `objects` belong to no mask.
 *
 * For label k, pixel (x, y) is on the boundary when the memberships of (x, y), its right, lower and
 * lower-right neighbours in mask k are not all equal: exactly when k is one of those four labels and
 * the four labels are not all the same. So a uniform 2x2 neighbourhood is skipped at once, and a mixed
 * one marks each distinct label it holds. Last row: right neighbour only; last column: lower only;
 * the bottom-right pixel is never boundary.
 *
 * Rows are `stride` bytes apart (default `width`). When `stride` is a multiple of 4 and `labels`
 * starts 4-byte aligned (see {@link padLabels}), uniform runs are skipped 4 pixels at a time: pixels
 * x..x+3 of row y are off every boundary when bytes x..x+4 of rows y and y + 1 hold one value.
 */
export function collectBoundaries(
  labels: Uint8Array,
  width: number,
  height: number,
  objects: number,
  lists: readonly BoundaryList[],
  extents?: RowExtents,
  stride = width,
): void {
  for (let k = 1; k <= objects; k++) (lists[k] as BoundaryList).clear();
  if (objects === 0) return;
  let ext = extents;
  if (!ext) {
    ext = new RowExtents(height);
    ext.compute(labels, width, height, stride);
  }
  const words = wordsOf(labels, stride);
  const strideWords = stride >> 2;
  const rowMin = ext.min;
  const rowMax = ext.max;
  const lastX = width - 1;
  const lastY = height - 1;
  for (let y = 0; y < lastY; y++) {
    // Outside the non-zero columns of rows y and y + 1 every 2x2 neighbourhood is uniformly 0.
    const lo = Math.min(rowMin[y] as number, rowMin[y + 1] as number);
    const hi = Math.max(rowMax[y] as number, rowMax[y + 1] as number);
    if (hi < 0) continue;
    const row = y * stride;
    const xTo = hi < lastX ? hi : lastX - 1;
    let x = lo > 0 ? lo - 1 : 0;
    while (x <= xTo) {
      const i = row + x;
      if (words && (x & 3) === 0 && x + 4 <= lastX) {
        const k = i >> 2;
        const a = words[k] as number;
        if (a === words[k + strideWords] && a === (a & 0xff) * 0x01010101) {
          // A word followed by the same uniform word in both rows is off the boundary; the last
          // word of such a run needs the byte after it checked.
          let kk = k;
          const kLast = (row + lastX - 4) >> 2; // words whose pixels and the byte after lie before the last column
          while (kk < kLast && words[kk + 1] === a && words[kk + 1 + strideWords] === a) kk++;
          const j = kk << 2;
          const v = a & 0xff;
          if (labels[j + 4] === v && labels[j + 4 + stride] === v) {
            x += 4 * (kk - k + 1);
            continue;
          }
          if (kk > k) {
            x += 4 * (kk - k);
            continue;
          }
        }
      }
      const m = labels[i] as number;
      const e = labels[i + 1] as number;
      const s = labels[i + stride] as number;
      const se = labels[i + stride + 1] as number;
      if (m !== e || m !== s || m !== se) {
        add(lists, m, objects, x, y);
        if (e !== m) add(lists, e, objects, x, y);
        if (s !== m && s !== e) add(lists, s, objects, x, y);
        if (se !== m && se !== e && se !== s) add(lists, se, objects, x, y);
      }
      x++;
    }
    if (hi === lastX) {
      // Last column: compare with the pixel below only.
      const m = labels[row + lastX] as number;
      const s = labels[row + stride + lastX] as number;
      if (m !== s) {
        add(lists, m, objects, lastX, y);
        add(lists, s, objects, lastX, y);
      }
    }
  }
  // Last row: compare with the pixel on the right only; the corner is never boundary.
  const lo = rowMin[lastY] as number;
  const hi = rowMax[lastY] as number;
  if (hi >= 0) {
    const row = lastY * stride;
    const xTo = hi < lastX ? hi : lastX - 1;
    for (let x = lo > 0 ? lo - 1 : 0; x <= xTo; x++) {
      const m = labels[row + x] as number;
      const e = labels[row + x + 1] as number;
      if (m !== e) {
        add(lists, m, objects, x, lastY);
        add(lists, e, objects, x, lastY);
      }
    }
  }
}

/** A Uint32Array view of `labels` when rows are word-aligned (4-byte aligned start, stride % 4 == 0). */
function wordsOf(labels: Uint8Array, stride: number): Uint32Array | undefined {
  if (labels.byteOffset % 4 !== 0 || stride % 4 !== 0) return undefined;
  return new Uint32Array(labels.buffer, labels.byteOffset, labels.length >> 2);
}

/** Row stride of {@link padLabels}: `width` rounded up to a multiple of 4. */
export function paddedStride(width: number): number {
  return (width + 3) & ~3;
}

/**
 * Copies a `width` x `height` label map into `into` (or a new buffer) with rows {@link paddedStride}
 * bytes apart, padding bytes 0, so the scorer can read 4 pixels at a time. `into` must be a buffer
 * this function returned for the same width (its padding is never written).
 */
export function padLabels(labels: Uint8Array, width: number, height: number, into?: Uint8Array): Uint8Array {
  const stride = paddedStride(width);
  const out = into && into.length === stride * height ? into : new Uint8Array(stride * height);
  if (stride === width) {
    out.set(labels.subarray(0, width * height));
    return out;
  }
  const src = Buffer.from(labels.buffer, labels.byteOffset, labels.length);
  const dst = Buffer.from(out.buffer, out.byteOffset, out.length);
  for (let y = 0; y < height; y++) src.copy(dst, y * stride, y * width, (y + 1) * width);
  return out;
}

/**
 * Per row, the first and last column holding a non-zero value (`min` = width, `max` = -1 for an
 * empty row). Scans 4 pixels at a time where the buffer is aligned.
 */
export class RowExtents {
  min: Int32Array;
  max: Int32Array;

  constructor(height = 0) {
    this.min = new Int32Array(height);
    this.max = new Int32Array(height);
  }

  compute(labels: Uint8Array, width: number, height: number, stride = width): void {
    if (this.min.length < height) {
      this.min = new Int32Array(height);
      this.max = new Int32Array(height);
    }
    const words = labels.byteOffset % 4 === 0 ? new Uint32Array(labels.buffer, labels.byteOffset, labels.length >> 2) : undefined;
    for (let y = 0; y < height; y++) {
      const start = y * stride;
      const end = start + width;
      let i = start;
      if (words) {
        while (i < end && (i & 3) !== 0 && labels[i] === 0) i++;
        if (i < end && (i & 3) === 0 && labels[i] === 0) {
          while (i + 4 <= end && words[i >> 2] === 0) i += 4;
        }
      }
      while (i < end && labels[i] === 0) i++;
      if (i === end) {
        this.min[y] = width;
        this.max[y] = -1;
        continue;
      }
      this.min[y] = i - start;
      let j = end - 1;
      if (words) {
        while (j > i && ((j + 1) & 3) !== 0 && labels[j] === 0) j--;
        if (((j + 1) & 3) === 0 && labels[j] === 0) {
          while (j - 3 > i && words[(j - 3) >> 2] === 0) j -= 4;
        }
      }
      while (labels[j] === 0) j--;
      this.max[y] = j - start;
    }
  }
}

/** True when `b` (indexed) has a boundary pixel within the disk (half-widths `hw`) around (x, y). */
function hasPartner(x: number, y: number, b: BoundaryList, hw: Int32Array, r: number): boolean {
  const xs = b.xs;
  const rs = b.rowStart;
  // Rows nearest first: a hit usually lies within a pixel or two.
  for (let k = 0; k <= 2 * r; k++) {
    const dy = k & 1 ? (k + 1) >> 1 : -(k >> 1);
    const yy = y + dy;
    if (yy < b.y0 || yy > b.y1) continue;
    let lo = rs[yy - b.y0] as number;
    const end = rs[yy - b.y0 + 1] as number;
    if (lo === end) continue;
    const w = hw[dy < 0 ? -dy : dy] as number;
    const left = x - w;
    let hi = end;
    // First entry >= left.
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((xs[mid] as number) < left) lo = mid + 1;
      else hi = mid;
    }
    if (lo < end && (xs[lo] as number) <= x + w) return true;
  }
  return false;
}

/**
 * Number of pixels of `a` with a pixel of `b` within the disk: `sum(a * cv2.dilate(b, disk(r)))`.
 * `b` must be indexed ({@link BoundaryList.index}).
 */
export function countMatched(a: BoundaryList, b: BoundaryList, hw: Int32Array): number {
  if (a.count === 0 || b.count === 0) return 0;
  const r = hw.length - 1;
  const yFrom = b.y0 - r;
  const yTo = b.y1 + r;
  let matched = 0;
  for (let i = 0; i < a.count; i++) {
    const y = a.ys[i] as number;
    if (y < yFrom || y > yTo) continue;
    if (hasPartner(a.xs[i] as number, y, b, hw, r)) matched++;
  }
  return matched;
}

/** The official precision/recall special cases and F = 2PR / (P + R). */
export function fFromCounts(nFg: number, nGt: number, fgMatch: number, gtMatch: number): number {
  let precision: number;
  let recall: number;
  if (nFg === 0 && nGt > 0) {
    precision = 1;
    recall = 0;
  } else if (nFg > 0 && nGt === 0) {
    precision = 0;
    recall = 1;
  } else if (nFg === 0 && nGt === 0) {
    precision = 1;
    recall = 1;
  } else {
    precision = fgMatch / nFg;
    recall = gtMatch / nGt;
  }
  if (precision + recall === 0) return 0;
  return (2 * precision * recall) / (precision + recall);
}

/** J from pixel counts: intersection / union, 1 when the union is empty. */
export function jFromCounts(intersection: number, areaGt: number, areaRes: number): number {
  const union = areaGt + areaRes - intersection;
  return union === 0 ? 1 : intersection / union;
}

/**
 * Reusable working memory for {@link evaluateFrame} (one per thread; nothing is allocated per frame
 * once warmed up).
 */
export class FrameScratch {
  gtLists: BoundaryList[] = [];
  resLists: BoundaryList[] = [];
  gtExtents = new RowExtents();
  resExtents = new RowExtents();
  inter = new Float64Array(0);
  areaGt = new Float64Array(0);
  areaRes = new Float64Array(0);
  private radiusKey = "";
  hw: Int32Array = new Int32Array(0);
  /** Padded copies of the frame's label maps (rows {@link paddedStride} apart), for one frame size. */
  gtPad: Uint8Array = new Uint8Array(0);
  resPad: Uint8Array = new Uint8Array(0);

  prepare(objects: number, width: number, height: number): void {
    if (width > 65535 || height > 65535) throw new StcnError("ERR_STCN_INPUT", `frames larger than 65535 pixels are not supported (${width}x${height})`);
    const n = objects + 1;
    while (this.gtLists.length < n) {
      this.gtLists.push(new BoundaryList());
      this.resLists.push(new BoundaryList());
    }
    if (this.inter.length < n) {
      this.inter = new Float64Array(n);
      this.areaGt = new Float64Array(n);
      this.areaRes = new Float64Array(n);
    }
    const key = `${width}x${height}`;
    if (key !== this.radiusKey) {
      this.hw = diskHalfWidths(boundaryRadius(width, height));
      this.radiusKey = key;
      // New zeroed buffers per frame size: padding bytes are never written afterwards.
      this.gtPad = new Uint8Array(paddedStride(width) * height);
      this.resPad = new Uint8Array(paddedStride(width) * height);
    }
  }
}

/** Thrown by {@link evaluateFrame} when the result holds a label above the object count. */
export class ExtraObjectError extends Error {
  constructor(readonly label: number) {
    super(`result holds label ${label}`);
  }
}

/**
 * J and F of objects 1..`objects` for one frame. `gt` and `res` are label maps of the same size
 * (rows `inputStride` bytes apart, default `width`; with {@link paddedStride} they are read in place);
 * GT value 255 (void) counts as background, GT labels above `objects` are ignored; a result label
 * above `objects` throws {@link ExtraObjectError}. Writes `jOut[k - 1]`, `fOut[k - 1]`.
 */
export function evaluateFrame(
  gtIn: Uint8Array,
  resIn: Uint8Array,
  width: number,
  height: number,
  objects: number,
  jOut: Float64Array,
  fOut: Float64Array,
  scratch: FrameScratch,
  inputStride = width,
): void {
  scratch.prepare(objects, width, height);
  const stride = paddedStride(width);
  // Inputs already in the padded layout (rows `paddedStride(width)` apart, zero padding, aligned) are read in place.
  const inPlace = inputStride === stride && gtIn.byteOffset % 4 === 0 && resIn.byteOffset % 4 === 0;
  const gt = inPlace ? gtIn : padLabels(gtIn, width, height, scratch.gtPad);
  const res = inPlace ? resIn : padLabels(resIn, width, height, scratch.resPad);
  const gtWords = new Uint32Array(gt.buffer, gt.byteOffset, gt.length >> 2);
  const resWords = new Uint32Array(res.buffer, res.byteOffset, res.length >> 2);
  const { inter, areaGt, areaRes } = scratch;
  inter.fill(0);
  areaGt.fill(0);
  areaRes.fill(0);
  const ge = scratch.gtExtents;
  const re = scratch.resExtents;
  ge.compute(gt, width, height, stride);
  re.compute(res, width, height, stride);
  for (let y = 0; y < height; y++) {
    const lo = Math.min(ge.min[y] as number, re.min[y] as number);
    const hi = Math.max(ge.max[y] as number, re.max[y] as number);
    const row = y * stride;
    let i = row + lo;
    const end = row + hi;
    while (i <= end) {
      // 4 pixels at once where GT and result are each uniform over an aligned word.
      if ((i & 3) === 0) {
        const a = gtWords[i >> 2] as number;
        const b = resWords[i >> 2] as number;
        if (a === (a & 0xff) * 0x01010101 && b === (b & 0xff) * 0x01010101) {
          const g = a & 0xff;
          const s = b & 0xff;
          if (s <= objects) {
            // The run of words holding the same pair (within the row's window).
            let k = (i >> 2) + 1;
            const kEnd = (end + 1) >> 2;
            while (k < kEnd && gtWords[k] === a && resWords[k] === b) k++;
            const n = 4 * (k - (i >> 2));
            if (s !== 0) {
              areaRes[s]! += n;
              if (g === s) inter[s]! += n;
            }
            if (g !== 0 && g <= objects) areaGt[g]! += n;
            i = k << 2;
            continue;
          }
        }
      }
      const g = gt[i] as number;
      const s = res[i] as number;
      i++;
      if ((g | s) === 0) continue;
      if (s !== 0) {
        if (s > objects) throw new ExtraObjectError(s);
        areaRes[s]!++;
        if (g === s) inter[s]!++;
      }
      if (g !== 0 && g <= objects) areaGt[g]!++;
    }
  }
  if (objects === 0) return;
  collectBoundaries(gt, width, height, objects, scratch.gtLists, ge, stride);
  collectBoundaries(res, width, height, objects, scratch.resLists, re, stride);
  const hw = scratch.hw;
  for (let k = 1; k <= objects; k++) {
    jOut[k - 1] = jFromCounts(inter[k] as number, areaGt[k] as number, areaRes[k] as number);
    const gl = scratch.gtLists[k] as BoundaryList;
    const rl = scratch.resLists[k] as BoundaryList;
    const nGt = gl.count;
    const nFg = rl.count;
    let fgMatch = 0;
    let gtMatch = 0;
    if (nFg > 0 && nGt > 0) {
      gl.index();
      rl.index();
      fgMatch = countMatched(rl, gl, hw);
      gtMatch = countMatched(gl, rl, hw);
    }
    fOut[k - 1] = fFromCounts(nFg, nGt, fgMatch, gtMatch);
  }
}

function checkMask(mask: Uint8Array, width: number, height: number, what: string): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0 || mask.length !== width * height) {
    throw new StcnError("ERR_STCN_ARGUMENT", `${what}: ${mask.length} values for ${width}x${height}`);
  }
}

function asBinary(mask: Uint8Array): Uint8Array {
  const out = new Uint8Array(mask.length);
  for (let i = 0; i < mask.length; i++) out[i] = mask[i] ? 1 : 0;
  return out;
}

/**
 * Region similarity J of two binary masks (any non-zero value is foreground), as `db_eval_iou`:
 * intersection over union, 1 when both are empty.
 */
export function regionJ(gt: Uint8Array, res: Uint8Array, width: number, height: number): number {
  checkMask(gt, width, height, "gt");
  checkMask(res, width, height, "res");
  let inter = 0;
  let a = 0;
  let b = 0;
  for (let i = 0; i < gt.length; i++) {
    const g = gt[i] !== 0;
    const s = res[i] !== 0;
    if (g) a++;
    if (s) b++;
    if (g && s) inter++;
  }
  return jFromCounts(inter, a, b);
}

/** The `_seg2bmap` boundary map of a binary mask (1 = boundary), as a full image. */
export function boundaryMap(mask: Uint8Array, width: number, height: number): Uint8Array {
  checkMask(mask, width, height, "mask");
  const bin = asBinary(mask);
  const lists = [new BoundaryList(), new BoundaryList()];
  collectBoundaries(bin, width, height, 1, lists);
  const list = lists[1] as BoundaryList;
  const out = new Uint8Array(width * height);
  for (let i = 0; i < list.count; i++) out[(list.ys[i] as number) * width + (list.xs[i] as number)] = 1;
  return out;
}

/** Boundary measure details for one pair of binary masks. */
export interface BoundaryScore {
  f: number;
  precision: number;
  recall: number;
  /** Boundary pixel counts of result (fg) and ground truth. */
  nFg: number;
  nGt: number;
  /** Result boundary pixels near a GT boundary, and GT boundary pixels near a result boundary. */
  fgMatch: number;
  gtMatch: number;
  /** Tolerance radius in pixels. */
  radius: number;
}

/**
 * Contour accuracy F of two binary masks as `db_eval_boundary` / `f_measure` (`boundTh` < 1 is
 * relative to the image diagonal, ≥ 1 a radius in pixels).
 */
export function boundaryF(gt: Uint8Array, res: Uint8Array, width: number, height: number, boundTh = 0.008): BoundaryScore {
  checkMask(gt, width, height, "gt");
  checkMask(res, width, height, "res");
  const radius = boundaryRadius(width, height, boundTh);
  const hw = diskHalfWidths(radius);
  const g = asBinary(gt);
  const s = asBinary(res);
  const gLists = [new BoundaryList(), new BoundaryList()];
  const sLists = [new BoundaryList(), new BoundaryList()];
  collectBoundaries(g, width, height, 1, gLists);
  collectBoundaries(s, width, height, 1, sLists);
  const gl = gLists[1] as BoundaryList;
  const sl = sLists[1] as BoundaryList;
  gl.index();
  sl.index();
  const nGt = gl.count;
  const nFg = sl.count;
  const fgMatch = countMatched(sl, gl, hw);
  const gtMatch = countMatched(gl, sl, hw);
  const f = fFromCounts(nFg, nGt, fgMatch, gtMatch);
  let precision: number;
  let recall: number;
  if (nFg === 0 && nGt > 0) [precision, recall] = [1, 0];
  else if (nFg > 0 && nGt === 0) [precision, recall] = [0, 1];
  else if (nFg === 0 && nGt === 0) [precision, recall] = [1, 1];
  else [precision, recall] = [fgMatch / nFg, gtMatch / nGt];
  return { f, precision, recall, nFg, nGt, fgMatch, gtMatch, radius };
}
