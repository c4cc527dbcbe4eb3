/**
 * LOST's graph steps (Siméoni et al. 2021, `object_discovery.py`) on typed arrays: degree, seed,
 * candidates, seed expansion, 4-connected component, box, and the nearest (half-pixel centre)
 * upsampling of the patch mask. The only matrix product, A = F Fᵀ, is done by the exported DINO
 * module (`lost_gram`, on the module's device); everything here is O(N²) scalar work or less.
 *
 * Pure functions, no addon: usable on any Gram matrix (tests build synthetic ones).
 */
import { StcnError } from "../errors.js";

/** Geometry needed to turn patch indices into pixels. */
export interface LostGeometry {
  /** Patch-grid rows (= ceil(height / patchSize)). */
  rows: number;
  /** Patch-grid columns (= ceil(width / patchSize)). */
  cols: number;
  /** Unpadded image width in pixels (boxes are clamped to it). */
  width: number;
  /** Unpadded image height in pixels. */
  height: number;
  /** Pixels per patch side (16 for ViT-S/16 and ViT-B/16). */
  patchSize: number;
}

/** Options of the graph steps. */
export interface LostGraphOptions {
  /** Candidate patches: the k lowest-degree patches (LOST's `k_patches`). Default 100. */
  kPatches?: number;
  /**
   * Objects to find (default 1 = LOST as published). Object n+1 is found by running LOST again on
   * the patches not assigned to objects 1..n (the found patches are removed from the graph). Fewer
   * objects are returned when no patches remain.
   */
  objects?: number;
}

/** One object found by LOST. */
export interface LostObject {
  /** Object id in the label map (1-based, in discovery order). */
  id: number;
  /** The seed patch (row-major patch index): the lowest-degree patch, ties to the lowest index. */
  seed: number;
  /** The seed's grid row and column. */
  seedRow: number;
  seedCol: number;
  /** The seed's degree (number of other remaining patches with a positive similarity). */
  seedDegree: number;
  /** The k candidate patches in (degree, index) order. */
  potentials: Int32Array;
  /** Candidates positively correlated with the seed (A[seed, p] > 0); always includes the seed. */
  similars: Int32Array;
  /** The patch mask (rows × cols, 1 = in the seed's 4-connected component of M > 0). */
  patches: Uint8Array;
  /** Number of patches in the component. */
  area: number;
  /** Box [xmin, ymin, xmax, ymax] in pixels, max exclusive, clamped to the unpadded image. */
  box: [number, number, number, number];
}

/** What {@link lostGraph} returns. */
export interface LostGraphResult {
  rows: number;
  cols: number;
  /** Objects in discovery order (1 unless `objects` > 1). */
  objects: LostObject[];
  /** Patch labels (rows × cols): 0 = background, n = object n. */
  grid: Uint8Array;
}

function checkInt(name: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new StcnError("ERR_STCN_ARGUMENT", `${name} must be an integer in [${min}, ${max}], got ${value}`);
  }
}

/**
 * Runs LOST's graph steps on the Gram matrix `gram` (N × N, row-major, N = rows × cols; A[i][j] =
 * ⟨f_i, f_j⟩ of the patch features in row-major grid order):
 *
 * 1. degree_i = #{j ≠ i : A[i][j] > 0} (LOST's `patch_scoring`: diagonal zeroed, negatives zeroed);
 * 2. patches sorted by ascending degree with a **stable** sort (ties keep the lower patch index first;
 *    the official `torch.argsort` gives no tie guarantee); seed = the first; potentials = the first k;
 * 3. similars = potentials p with A[seed][p] > 0;
 * 4. M = Σ_{s ∈ similars} A[s][:] (accumulated in float64);
 * 5. the 4-connected component of M > 0 containing the seed (scipy.ndimage.label's default
 *    structure), its box ×patchSize with the max exclusive, clamped to width/height.
 *
 * With `objects` > 1 the steps repeat on the remaining patches (see {@link LostGraphOptions.objects}).
 * The first object is always exactly the published single-object LOST.
 */
export function lostGraph(gram: Float32Array | Float64Array, geometry: LostGeometry, options: LostGraphOptions = {}): LostGraphResult {
  const { rows, cols, width, height, patchSize } = geometry;
  checkInt("rows", rows, 1);
  checkInt("cols", cols, 1);
  checkInt("patchSize", patchSize, 1);
  checkInt("width", width, 1);
  checkInt("height", height, 1);
  const n = rows * cols;
  if (gram.length !== n * n) {
    throw new StcnError("ERR_STCN_ARGUMENT", `Gram matrix has ${gram.length} entries, expected ${n}x${n} for a ${rows}x${cols} patch grid`);
  }
  const kPatches = options.kPatches ?? 100;
  const wanted = options.objects ?? 1;
  checkInt("kPatches", kPatches, 1);
  checkInt("objects", wanted, 1, 255);

  const grid = new Uint8Array(n);
  const active = new Uint8Array(n).fill(1);
  let remaining = n;
  const objects: LostObject[] = [];

  const degree = new Int32Array(n);
  const order = new Int32Array(n);
  const m = new Float64Array(n);

  while (objects.length < wanted && remaining > 0) {
    // 1. Degrees over the remaining patches.
    let count = 0;
    for (let i = 0; i < n; i++) {
      if (!active[i]) continue;
      const row = i * n;
      let d = 0;
      for (let j = 0; j < n; j++) {
        if (j !== i && active[j] && (gram[row + j] as number) > 0) d++;
      }
      degree[i] = d;
      order[count++] = i;
    }
    // 2. Stable ascending sort by degree (index order breaks ties).
    const sorted = Array.from(order.subarray(0, count)).sort((a, b) => (degree[a] as number) - (degree[b] as number) || a - b);
    const seed = sorted[0] as number;
    const potentials = Int32Array.from(sorted.slice(0, kPatches));
    // 3. Similars: candidates positively correlated with the seed.
    const similarList: number[] = [];
    for (const p of potentials) if ((gram[seed * n + p] as number) > 0) similarList.push(p);
    const similars = Int32Array.from(similarList);
    // 4. Seed expansion: M = sum of the similars' rows.
    m.fill(0);
    for (const s of similars) {
      const row = s * n;
      for (let j = 0; j < n; j++) m[j] = (m[j] as number) + (gram[row + j] as number);
    }
    // 5. 4-connected component of (M > 0) on the remaining patches containing the seed.
    if (!((m[seed] as number) > 0)) {
      throw new StcnError(
        "ERR_STCN_INTERNAL",
        `LOST: the seed patch ${seed} lies in the background of its own expansion (M = ${m[seed]}); the Gram matrix is not symmetric`,
      );
    }
    const patches = new Uint8Array(n);
    const stack = [seed];
    patches[seed] = 1;
    let area = 0;
    let rmin = rows;
    let rmax = -1;
    let cmin = cols;
    let cmax = -1;
    while (stack.length > 0) {
      const p = stack.pop() as number;
      area++;
      const r = Math.floor(p / cols);
      const c = p - r * cols;
      if (r < rmin) rmin = r;
      if (r > rmax) rmax = r;
      if (c < cmin) cmin = c;
      if (c > cmax) cmax = c;
      const visit = (q: number): void => {
        if (!patches[q] && active[q] && (m[q] as number) > 0) {
          patches[q] = 1;
          stack.push(q);
        }
      };
      if (r > 0) visit(p - cols);
      if (r < rows - 1) visit(p + cols);
      if (c > 0) visit(p - 1);
      if (c < cols - 1) visit(p + 1);
    }
    const id = objects.length + 1;
    for (let i = 0; i < n; i++) {
      if (patches[i]) {
        grid[i] = id;
        active[i] = 0;
        remaining--;
      }
    }
    objects.push({
      id,
      seed,
      seedRow: Math.floor(seed / cols),
      seedCol: seed % cols,
      seedDegree: degree[seed] as number,
      potentials,
      similars,
      patches,
      area,
      box: [
        cmin * patchSize,
        rmin * patchSize,
        Math.min((cmax + 1) * patchSize, width),
        Math.min((rmax + 1) * patchSize, height),
      ],
    });
  }
  return { rows, cols, objects, grid };
}

/**
 * Nearest-neighbour resize of a label grid (rows × cols) to height × width with half-pixel centres:
 * source index = floor((dst + 0.5) · in / out), computed exactly in integers and clamped — scikit-image
 * `resize(order=0)` / PyTorch `nearest-exact`, as the study upsampled the LOST mask to the unpadded
 * frame (the padded grid is squeezed onto the unpadded size; docs/lost.md, "What is computed", step 4).
 */
export function upsampleNearest(grid: Uint8Array, rows: number, cols: number, height: number, width: number): Uint8Array {
  if (grid.length !== rows * cols) {
    throw new StcnError("ERR_STCN_ARGUMENT", `grid has ${grid.length} cells, expected ${rows}x${cols}`);
  }
  checkInt("height", height, 1);
  checkInt("width", width, 1);
  const srcCol = new Int32Array(width);
  for (let x = 0; x < width; x++) srcCol[x] = Math.min(Math.floor(((2 * x + 1) * cols) / (2 * width)), cols - 1);
  const out = new Uint8Array(height * width);
  for (let y = 0; y < height; y++) {
    const sy = Math.min(Math.floor(((2 * y + 1) * rows) / (2 * height)), rows - 1);
    const srcRow = sy * cols;
    const dstRow = y * width;
    for (let x = 0; x < width; x++) out[dstRow + x] = grid[srcRow + (srcCol[x] as number)] as number;
  }
  return out;
}
