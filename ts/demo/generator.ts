/**
 * Procedural video generator for the demo, the demo model's training data and tests.
 *
 * One seed -> one clip, deterministically (own PRNG, no Math.random): a textured background seen by
 * a panning and zooming camera, 1-4 textured objects of varied shapes (ellipses, boxes, polygons,
 * stars, blobs) moving with affine motion (translation with bounces, rotation, anisotropic scale
 * changes), occluding each other in a fixed depth order, plus unlabelled distractors whose colours
 * are close to an object's. Ground truth is the visible part of each object (labels 1..K, 0 =
 * background, distractors included); every object is clearly visible on frame 0.
 *
 * The same code feeds `stcn demo` (clips generated at run time) and torchscript/train_demo.py
 * (through dist/cli/generate-clips.js), so the model is trained on exactly what the demo shows.
 */
import { join } from "node:path";
import { StcnError } from "../errors.js";
import { writeFileAtomic } from "../io/atomic.js";
import { encodeRgb } from "../io/image.js";
import { encodeLabelPng } from "../io/png.js";

/** Options of {@link generateClip}. */
export interface GenerateOptions {
  /** Seed (integer >= 0): the clip is a pure function of the options. */
  seed: number;
  /** Frame width in pixels (default 160). */
  width?: number;
  /** Frame height in pixels (default 128). */
  height?: number;
  /** Number of frames (default 30). */
  frames?: number;
  /** Number of labelled objects, 1-4 (default: drawn from the seed). */
  objects?: number;
}

/** A generated clip: RGB frames and label maps of the same size. */
export interface GeneratedClip {
  /** Sequence name, `synth-<seed>` (zero-padded to 6 digits). */
  name: string;
  seed: number;
  width: number;
  height: number;
  /** Labelled objects (labels 1..objects). */
  objects: number;
  /** Unlabelled distractors drawn. */
  distractors: number;
  /** Packed RGB, `frames[t][(y * width + x) * 3 + c]`. */
  frames: Uint8Array[];
  /** Label maps, `masks[t][y * width + x]`. */
  masks: Uint8Array[];
}

/** Default clip geometry (multiples of 16: no padding inside the model). */
export const DEFAULT_CLIP = { width: 160, height: 128, frames: 30 } as const;

/** The name of a generated sequence. */
export function clipName(seed: number): string {
  return `synth-${String(seed).padStart(6, "0")}`;
}

// ------------------------------------------------------------------------------------------------
// Deterministic randomness
// ------------------------------------------------------------------------------------------------

/** mulberry32: small, fast, well-mixed 32-bit PRNG. */
class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = (seed ^ 0x9e3779b9) >>> 0;
    for (let i = 0; i < 4; i++) this.next();
  }
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  uniform(a: number, b: number): number {
    return a + (b - a) * this.next();
  }
  int(a: number, b: number): number {
    return a + Math.floor(this.next() * (b - a + 1));
  }
  sign(): number {
    return this.next() < 0.5 ? -1 : 1;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)] as T;
  }
}

/** Integer hash of a lattice point -> [0, 1). */
function hash3(x: number, y: number, salt: number): number {
  let h = Math.imul(x | 0, 0x27d4eb2d) ^ Math.imul(y | 0, 0x165667b1) ^ Math.imul(salt | 0, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 15), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 4294967296;
}

/** Smooth value noise in [0, 1). */
function valueNoise(x: number, y: number, salt: number): number {
  const ix = Math.floor(x);
  const iy = Math.floor(y);
  const fx = x - ix;
  const fy = y - iy;
  const sx = fx * fx * (3 - 2 * fx);
  const sy = fy * fy * (3 - 2 * fy);
  const a = hash3(ix, iy, salt);
  const b = hash3(ix + 1, iy, salt);
  const c = hash3(ix, iy + 1, salt);
  const d = hash3(ix + 1, iy + 1, salt);
  return a + (b - a) * sx + (c - a) * sy + (a - b - c + d) * sx * sy;
}

// ------------------------------------------------------------------------------------------------
// Textures
// ------------------------------------------------------------------------------------------------

type Rgb = [number, number, number];

interface Texture {
  a: Rgb;
  b: Rgb;
  kind: "stripes" | "checker" | "noise" | "dots" | "rings";
  freq: number;
  cos: number;
  sin: number;
  salt: number;
  /** Amount of fine value noise mixed in (0-1). */
  grain: number;
}

function hsv(h: number, s: number, v: number): Rgb {
  const i = Math.floor(h * 6);
  const f = h * 6 - i;
  const p = v * (1 - s);
  const q = v * (1 - f * s);
  const t = v * (1 - (1 - f) * s);
  const m = ((i % 6) + 6) % 6;
  const [r, g, b] = m === 0 ? [v, t, p] : m === 1 ? [q, v, p] : m === 2 ? [p, v, t] : m === 3 ? [p, q, v] : m === 4 ? [t, p, v] : [v, p, q];
  return [r * 255, g * 255, b * 255];
}

function randomTexture(rng: Rng, hue: number, sat: number, val: number, contrast: number): Texture {
  const angle = rng.uniform(0, Math.PI);
  const second = hsv((hue + rng.uniform(-0.12, 0.12) + 1) % 1, Math.min(1, sat * rng.uniform(0.5, 1.2)), Math.max(0.05, val * (1 - contrast)));
  return {
    a: hsv(hue, sat, val),
    b: second,
    kind: rng.pick(["stripes", "checker", "noise", "dots", "rings"] as const),
    freq: rng.uniform(0.12, 0.45),
    cos: Math.cos(angle),
    sin: Math.sin(angle),
    salt: rng.int(1, 1 << 30),
    grain: rng.uniform(0.05, 0.3),
  };
}

/** Texture colour at texture coordinates (u, v) (pixels of the object's or the world's frame). */
function sampleTexture(tex: Texture, u: number, v: number, out: Float32Array): void {
  const ru = u * tex.cos - v * tex.sin;
  const rv = u * tex.sin + v * tex.cos;
  let m: number;
  switch (tex.kind) {
    case "stripes":
      m = 0.5 + 0.5 * Math.sin(ru * tex.freq * 2.2);
      break;
    case "checker":
      m = (Math.floor(ru * tex.freq * 0.7) + Math.floor(rv * tex.freq * 0.7)) & 1;
      break;
    case "noise":
      m = valueNoise(ru * tex.freq * 0.6, rv * tex.freq * 0.6, tex.salt);
      break;
    case "dots": {
      const p = 1 / (tex.freq * 0.6);
      const du = ru - p * Math.round(ru / p);
      const dv = rv - p * Math.round(rv / p);
      m = du * du + dv * dv < p * p * 0.12 ? 1 : 0;
      break;
    }
    default:
      m = 0.5 + 0.5 * Math.sin(Math.sqrt(ru * ru + rv * rv) * tex.freq * 2);
  }
  const g = tex.grain * (valueNoise(u * 0.9, v * 0.9, tex.salt + 7) - 0.5) * 2;
  m = Math.min(1, Math.max(0, m * (1 - tex.grain) + 0.5 * tex.grain + g * 0.5));
  out[0] = tex.a[0] + (tex.b[0] - tex.a[0]) * m;
  out[1] = tex.a[1] + (tex.b[1] - tex.a[1]) * m;
  out[2] = tex.a[2] + (tex.b[2] - tex.a[2]) * m;
}

// ------------------------------------------------------------------------------------------------
// Shapes and motion
// ------------------------------------------------------------------------------------------------

/** Radius of the unit shape in direction theta (inside = |(u,v)| <= radius(atan2(v,u))). */
type RadialShape = (theta: number) => number;

function randomShape(rng: Rng): { kind: string; radius: RadialShape } {
  const kind = rng.pick(["ellipse", "box", "polygon", "star", "blob", "blob"] as const);
  switch (kind) {
    case "ellipse":
      return { kind, radius: () => 1 };
    case "box":
      return { kind, radius: (t) => 0.85 / Math.max(Math.abs(Math.cos(t)), Math.abs(Math.sin(t))) };
    case "polygon": {
      const n = rng.int(3, 6);
      const sector = (2 * Math.PI) / n;
      const r0 = Math.cos(Math.PI / n);
      return {
        kind,
        radius: (t) => {
          const a = (((t % sector) + sector) % sector) - sector / 2;
          return r0 / Math.cos(a);
        },
      };
    }
    case "star": {
      const n = rng.int(4, 7);
      const depth = rng.uniform(0.25, 0.45);
      return { kind, radius: (t) => 1 - depth * (0.5 + 0.5 * Math.cos(n * t)) };
    }
    default: {
      const amps = [rng.uniform(0.05, 0.2), rng.uniform(0.05, 0.15), rng.uniform(0.02, 0.1)];
      const phases = [rng.uniform(0, 6.3), rng.uniform(0, 6.3), rng.uniform(0, 6.3)];
      return {
        kind,
        radius: (t) => 0.8 + (amps[0] as number) * Math.sin(2 * t + (phases[0] as number)) + (amps[1] as number) * Math.sin(3 * t + (phases[1] as number)) + (amps[2] as number) * Math.sin(5 * t + (phases[2] as number)),
      };
    }
  }
}

interface Layer {
  /** Label written to the mask (0 for distractors). */
  label: number;
  radius: RadialShape;
  texture: Texture;
  /** Per-frame pose in world coordinates. */
  cx: Float64Array;
  cy: Float64Array;
  angle: Float64Array;
  sx: Float64Array;
  sy: Float64Array;
}

interface Camera {
  x: Float64Array;
  y: Float64Array;
  zoom: Float64Array;
}

function makeMotion(rng: Rng, frames: number, width: number, height: number, size: number, cam: Camera): Omit<Layer, "label" | "radius" | "texture"> {
  const cx = new Float64Array(frames);
  const cy = new Float64Array(frames);
  const angle = new Float64Array(frames);
  const sx = new Float64Array(frames);
  const sy = new Float64Array(frames);
  // Start inside the view (world coordinates at frame 0 = screen coordinates, camera at 0).
  let x = rng.uniform(size * 0.7, width - size * 0.7);
  let y = rng.uniform(size * 0.7, height - size * 0.7);
  const speed = rng.uniform(0.4, 2.6);
  const heading = rng.uniform(0, 2 * Math.PI);
  let vx = speed * Math.cos(heading);
  let vy = speed * Math.sin(heading);
  const turn = rng.uniform(-0.06, 0.06);
  const a0 = rng.uniform(0, 2 * Math.PI);
  const omega = rng.uniform(-0.07, 0.07);
  const aspect = rng.uniform(0.6, 1.0);
  const growth = rng.uniform(-0.012, 0.012);
  const pulse = rng.uniform(0, 0.15);
  const pulsePeriod = rng.uniform(12, 40);
  const pulsePhase = rng.uniform(0, 6.3);
  for (let t = 0; t < frames; t++) {
    const s = size * Math.max(0.45, 1 + growth * t) * (1 + pulse * Math.sin((2 * Math.PI * t) / pulsePeriod + pulsePhase));
    cx[t] = x;
    cy[t] = y;
    angle[t] = a0 + omega * t;
    sx[t] = s;
    sy[t] = s * aspect;
    // Advance: curved path, bounce on the edges of the camera's view.
    const c = Math.cos(turn);
    const sn = Math.sin(turn);
    [vx, vy] = [vx * c - vy * sn, vx * sn + vy * c];
    x += vx;
    y += vy;
    const viewX = x - ((cam.x[Math.min(t + 1, frames - 1)] as number) - (cam.x[0] as number));
    const viewY = y - ((cam.y[Math.min(t + 1, frames - 1)] as number) - (cam.y[0] as number));
    if ((viewX < s * 0.9 && vx < 0) || (viewX > width - s * 0.9 && vx > 0)) vx = -vx;
    if ((viewY < s * 0.9 && vy < 0) || (viewY > height - s * 0.9 && vy > 0)) vy = -vy;
  }
  return { cx, cy, angle, sx, sy };
}

function makeCamera(rng: Rng, frames: number): Camera {
  const x = new Float64Array(frames);
  const y = new Float64Array(frames);
  const zoom = new Float64Array(frames);
  const still = rng.next() < 0.2;
  const vx = still ? 0 : rng.uniform(-1.5, 1.5);
  const vy = still ? 0 : rng.uniform(-1.0, 1.0);
  const shake = still ? 0 : rng.uniform(0, 0.8);
  const dz = still ? 0 : rng.uniform(-0.006, 0.006);
  const salt = rng.int(1, 1 << 30);
  for (let t = 0; t < frames; t++) {
    x[t] = vx * t + shake * (valueNoise(t * 0.3, 0.5, salt) - 0.5) * 4;
    y[t] = vy * t + shake * (valueNoise(t * 0.3, 7.5, salt) - 0.5) * 4;
    zoom[t] = 1 + dz * t;
  }
  return { x, y, zoom };
}

// ------------------------------------------------------------------------------------------------
// Rendering
// ------------------------------------------------------------------------------------------------

interface Scene {
  width: number;
  height: number;
  frames: number;
  background: Texture;
  backgroundDetail: Texture;
  camera: Camera;
  /** Front to back. */
  layers: Layer[];
  noiseSalt: number;
  flicker: Float64Array;
}

function buildScene(rng: Rng, width: number, height: number, frames: number, objectCount: number): Scene {
  const camera = makeCamera(rng, frames);
  const bgHue = rng.next();
  const background = randomTexture(rng, bgHue, rng.uniform(0.1, 0.6), rng.uniform(0.35, 0.85), rng.uniform(0.1, 0.5));
  background.freq *= 0.35;
  const backgroundDetail = randomTexture(rng, (bgHue + rng.uniform(-0.2, 0.2) + 1) % 1, rng.uniform(0.1, 0.6), rng.uniform(0.3, 0.9), rng.uniform(0.2, 0.6));
  const minSide = Math.min(width, height);
  const layers: Layer[] = [];
  const hues: number[] = [];
  for (let i = 0; i < objectCount; i++) {
    // Object hues spread apart but may sit near the background's.
    const hue = (rng.next() + i / objectCount) % 1;
    hues.push(hue);
    const size = minSide * rng.uniform(0.1, 0.24);
    const shape = randomShape(rng);
    layers.push({
      label: i + 1,
      radius: shape.radius,
      texture: randomTexture(rng, hue, rng.uniform(0.35, 1), rng.uniform(0.45, 1), rng.uniform(0.15, 0.6)),
      ...makeMotion(rng, frames, width, height, size, camera),
    });
  }
  const distractors = rng.int(0, objectCount >= 3 ? 1 : 2);
  for (let i = 0; i < distractors; i++) {
    const like = rng.int(0, objectCount - 1);
    const base = layers[like] as Layer;
    const shape = randomShape(rng);
    const tex = randomTexture(rng, ((hues[like] as number) + rng.uniform(-0.05, 0.05) + 1) % 1, rng.uniform(0.35, 1), rng.uniform(0.45, 1), rng.uniform(0.15, 0.6));
    tex.a = base.texture.a.map((c) => Math.min(255, Math.max(0, c + rng.uniform(-25, 25)))) as Rgb;
    layers.push({
      label: 0,
      radius: shape.radius,
      texture: tex,
      ...makeMotion(rng, frames, width, height, minSide * rng.uniform(0.08, 0.2), camera),
    });
  }
  // Random depth order (labelled objects and distractors interleave).
  for (let i = layers.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [layers[i], layers[j]] = [layers[j] as Layer, layers[i] as Layer];
  }
  const flicker = new Float64Array(frames);
  const flickerAmp = rng.uniform(0, 0.06);
  for (let t = 0; t < frames; t++) flicker[t] = 1 + flickerAmp * Math.sin(t * 0.7 + rng.uniform(0, 0.5));
  return { width, height, frames, background, backgroundDetail, camera, layers, noiseSalt: rng.int(1, 1 << 30), flicker };
}

interface Placed {
  layer: Layer;
  x0: number;
  y0: number;
  x1: number;
  y1: number;
  cx: number;
  cy: number;
  cos: number;
  sin: number;
  isx: number;
  isy: number;
  /** Texture scale: object pixels per unit shape coordinate. */
  tsx: number;
  tsy: number;
}

function renderFrame(scene: Scene, t: number, rgb: Uint8Array, labels: Uint8Array): void {
  const { width, height, camera } = scene;
  const zoom = camera.zoom[t] as number;
  const camX = (camera.x[t] as number) - (camera.x[0] as number);
  const camY = (camera.y[t] as number) - (camera.y[0] as number);
  const hw = width / 2;
  const hh = height / 2;
  // Pose of each layer on screen at frame t.
  const placed: Placed[] = scene.layers.map((layer) => {
    const cx = ((layer.cx[t] as number) - camX - hw) * zoom + hw;
    const cy = ((layer.cy[t] as number) - camY - hh) * zoom + hh;
    const sx = (layer.sx[t] as number) * zoom;
    const sy = (layer.sy[t] as number) * zoom;
    const reach = Math.max(sx, sy) * 1.3 + 1;
    const a = layer.angle[t] as number;
    return {
      layer,
      x0: Math.max(0, Math.floor(cx - reach)),
      x1: Math.min(width - 1, Math.ceil(cx + reach)),
      y0: Math.max(0, Math.floor(cy - reach)),
      y1: Math.min(height - 1, Math.ceil(cy + reach)),
      cx,
      cy,
      cos: Math.cos(a),
      sin: Math.sin(a),
      isx: 1 / sx,
      isy: 1 / sy,
      tsx: layer.sx[0] as number,
      tsy: layer.sy[0] as number,
    };
  });
  const colour = new Float32Array(3);
  const detail = new Float32Array(3);
  const flicker = scene.flicker[t] as number;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      let label = 0;
      let drawn = false;
      for (const p of placed) {
        if (x < p.x0 || x > p.x1 || y < p.y0 || y > p.y1) continue;
        const dx = x + 0.5 - p.cx;
        const dy = y + 0.5 - p.cy;
        const u = (dx * p.cos + dy * p.sin) * p.isx;
        const v = (-dx * p.sin + dy * p.cos) * p.isy;
        const r2 = u * u + v * v;
        if (r2 > 1.7) continue;
        const r = p.layer.radius(Math.atan2(v, u));
        if (r2 > r * r) continue;
        sampleTexture(p.layer.texture, u * p.tsx, v * p.tsy, colour);
        // Simple shading: lighter towards the top-left of the object.
        const shade = 1 + 0.12 * (-u - v) * 0.5;
        colour[0] = (colour[0] as number) * shade;
        colour[1] = (colour[1] as number) * shade;
        colour[2] = (colour[2] as number) * shade;
        label = p.layer.label;
        drawn = true;
        break;
      }
      if (!drawn) {
        const wx = (x + 0.5 - hw) / zoom + hw + camX;
        const wy = (y + 0.5 - hh) / zoom + hh + camY;
        sampleTexture(scene.background, wx, wy, colour);
        sampleTexture(scene.backgroundDetail, wx * 1.7, wy * 1.7, detail);
        const mix = valueNoise(wx * 0.03, wy * 0.03, scene.background.salt + 3);
        colour[0] = (colour[0] as number) * (1 - mix * 0.5) + (detail[0] as number) * mix * 0.5;
        colour[1] = (colour[1] as number) * (1 - mix * 0.5) + (detail[1] as number) * mix * 0.5;
        colour[2] = (colour[2] as number) * (1 - mix * 0.5) + (detail[2] as number) * mix * 0.5;
      }
      labels[i] = label;
      for (let c = 0; c < 3; c++) {
        const noise = (hash3(i, t * 3 + c, scene.noiseSalt) - 0.5) * 8;
        const value = (colour[c] as number) * flicker + noise;
        rgb[i * 3 + c] = value < 0 ? 0 : value > 255 ? 255 : Math.round(value);
      }
    }
  }
}

function checkInt(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new StcnError("ERR_STCN_ARGUMENT", `${name} must be an integer from ${min} to ${max}, got ${value}`);
  }
}

/**
 * Generates one clip. Deterministic: the same options give the same pixels. Scenes whose objects
 * are not all clearly visible on frame 0 (at least 0.6% of the frame each) are redrawn from the
 * same random stream, so every object can be given as a first-frame mask.
 */
export function generateClip(options: GenerateOptions): GeneratedClip {
  const width = options.width ?? DEFAULT_CLIP.width;
  const height = options.height ?? DEFAULT_CLIP.height;
  const frames = options.frames ?? DEFAULT_CLIP.frames;
  checkInt("seed", options.seed, 0, 2 ** 31 - 1);
  checkInt("width", width, 32, 4096);
  checkInt("height", height, 32, 4096);
  checkInt("frames", frames, 2, 10000);
  if (options.objects !== undefined) checkInt("objects", options.objects, 1, 4);
  const rng = new Rng(options.seed);
  const objectCount = options.objects ?? rng.pick([1, 2, 2, 3, 3, 4]);
  const minArea = Math.max(12, Math.round(width * height * 0.006));
  for (let attempt = 0; ; attempt++) {
    const scene = buildScene(rng, width, height, frames, objectCount);
    const rgb = new Uint8Array(width * height * 3);
    const labels = new Uint8Array(width * height);
    renderFrame(scene, 0, rgb, labels);
    const area = new Array<number>(objectCount + 1).fill(0);
    for (const l of labels) area[l] = (area[l] as number) + 1;
    if (attempt < 50 && area.slice(1).some((a) => a < minArea)) continue;
    const out: GeneratedClip = {
      name: clipName(options.seed),
      seed: options.seed,
      width,
      height,
      objects: objectCount,
      distractors: scene.layers.filter((l) => l.label === 0).length,
      frames: [rgb],
      masks: [labels],
    };
    for (let t = 1; t < frames; t++) {
      const f = new Uint8Array(width * height * 3);
      const m = new Uint8Array(width * height);
      renderFrame(scene, t, f, m);
      out.frames.push(f);
      out.masks.push(m);
    }
    return out;
  }
}

/** Frame file name in the DAVIS layout. */
export function frameFileName(index: number, ext: "jpg" | "png"): string {
  return `${String(index).padStart(5, "0")}.${ext}`;
}

/**
 * Writes a clip in the DAVIS layout under `root`:
 * `JPEGImages/480p/<name>/00000.jpg`, `Annotations/480p/<name>/00000.png` (DAVIS palette).
 * (The folder is called 480p as the toolkit expects; the frames keep the clip's size.)
 */
export async function writeDavisClip(clip: GeneratedClip, root: string): Promise<{ images: string; annotations: string }> {
  const images = join(root, "JPEGImages", "480p", clip.name);
  const annotations = join(root, "Annotations", "480p", clip.name);
  await Promise.all(
    clip.frames.map(async (frame, t) => {
      const jpeg = await encodeRgb({ data: frame, width: clip.width, height: clip.height }, "jpeg");
      await writeFileAtomic(join(images, frameFileName(t, "jpg")), jpeg);
      await writeFileAtomic(join(annotations, frameFileName(t, "png")), encodeLabelPng(clip.masks[t] as Uint8Array, clip.width, clip.height));
    }),
  );
  return { images, annotations };
}

/** Options of {@link generateDavisRoot}. */
export interface GenerateRootOptions extends Omit<GenerateOptions, "seed"> {
  /** DAVIS root to write (created). */
  root: string;
  /** One clip per seed. */
  seeds: readonly number[];
  /** ImageSets/2017/<set>.txt to write (default "val"). */
  set?: string;
  /** Called after each clip. */
  onClip?: (clip: GeneratedClip, index: number) => void;
}

/** Generates clips for `seeds` into a DAVIS root with an ImageSets list; returns the sequence names. */
export async function generateDavisRoot(options: GenerateRootOptions): Promise<string[]> {
  const names: string[] = [];
  for (const [index, seed] of options.seeds.entries()) {
    const clip = generateClip({ ...options, seed });
    await writeDavisClip(clip, options.root);
    names.push(clip.name);
    options.onClip?.(clip, index);
  }
  await writeFileAtomic(join(options.root, "ImageSets", "2017", `${options.set ?? "val"}.txt`), names.join("\n") + "\n");
  return names;
}
