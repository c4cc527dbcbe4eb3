// @ts-check
/**
 * An example HTTP service on stcn-node (node:http, busboy for multipart, fflate for zip): one loaded
 * STCN model serves many uploads. The protocol, limits and error codes are in docs/service.md.
 *
 *   POST /segment  multipart/form-data: `video` (a video file) or `frames` (a zip of frames), `mask`
 *                  (first-frame label PNG), optional fields `output` ("png" | "video") and `size`.
 *   -> 200 application/x-ndjson: {"event":"started"}, {"event":"progress"}..., {"event":"done"} with
 *      the result (or {"event":"error"} if the job fails after it started);
 *   -> 4xx/503 application/json {"error":{"code":"ERR_STCN_...","message":"..."}} for anything refused
 *      before the job starts (malformed upload, a limit exceeded, the queue full).
 *
 * A client that disconnects aborts its job (AbortSignal): the tracker stops at the next frame
 * boundary, its memory is freed and the next queued job starts.
 */
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { extname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import { createWriteStream } from "node:fs";
import busboy from "busboy";
import { unzip } from "fflate";
import sharp from "sharp";
import { isAbortError, isStcnError, parseByteSize, probeVideo, readLabelPng, segmentFolder, segmentVideo, StcnError } from "stcn-node";

/**
 * @typedef {object} ServiceLimits
 * @property {number} uploadBytes  whole request body (files and fields)
 * @property {number} pixels       width x height of the frames and the mask
 * @property {number} frames       frames per job (zip entries, or the video's frame count)
 * @property {number} durationSeconds  video duration
 */

/**
 * @typedef {object} ServiceOptions
 * @property {import("stcn-node").Stcn} model  a loaded STCN model, shared by all jobs
 * @property {Partial<ServiceLimits>} [limits]
 * @property {number} [maxJobs]    jobs running at once (default 2)
 * @property {number} [maxQueued]  jobs waiting for a slot before 503 (default 8)
 * @property {number} [size]       working size (shorter side, 0 = input resolution; default 480)
 * @property {number | string} [memoryBudget]  per job (default "256MiB")
 */

/** @type {ServiceLimits} */
export const DEFAULT_LIMITS = { uploadBytes: 64 * 2 ** 20, pixels: 1280 * 720, frames: 1500, durationSeconds: 60 };

const FRAME_EXTENSIONS = new Set([".jpg", ".jpeg", ".png"]);

/** A refusal before the job starts: an HTTP status and one of our codes. */
class Refusal extends Error {
  /**
   * @param {number} status
   * @param {string} code
   * @param {string} message
   */
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/**
 * Library errors that reach the client before the job starts: which HTTP status they get.
 * @param {unknown} error
 * @returns {Refusal}
 */
function refusalOf(error) {
  if (error instanceof Refusal) return error;
  if (isStcnError(error)) {
    const status = error.code === "ERR_STCN_IMAGE_TOO_LARGE" ? 422 : error.code === "ERR_STCN_DEPENDENCY" || error.code === "ERR_STCN_INTERNAL" ? 500 : 400;
    return new Refusal(status, error.code, error.message);
  }
  return new Refusal(500, "ERR_STCN_INTERNAL", error instanceof Error ? error.message : String(error));
}

/**
 * @param {import("node:http").ServerResponse} res
 * @param {number} status
 * @param {unknown} body
 */
function sendJson(res, status, body) {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), connection: "close" });
  res.end(text);
}

/**
 * Reads and discards the rest of a refused request's body, so that the client (still sending)
 * gets the answer rather than a reset connection; past `cap` bytes the connection is cut.
 * @param {import("node:http").IncomingMessage} req
 * @param {number} cap
 * @returns {Promise<void>}
 */
function drain(req, cap) {
  if (req.complete || req.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    let seen = 0;
    req.on("data", (/** @type {Buffer} */ chunk) => {
      seen += chunk.length;
      if (seen > cap) {
        req.destroy();
        resolve();
      }
    });
    req.on("end", () => resolve());
    req.on("close", () => resolve());
    req.resume();
  });
}

/** A FIFO of job slots: `maxJobs` run, `maxQueued` wait, the rest are refused. */
class JobSlots {
  /**
   * @param {number} maxJobs
   * @param {number} maxQueued
   */
  constructor(maxJobs, maxQueued) {
    this.maxJobs = maxJobs;
    this.maxQueued = maxQueued;
    this.running = 0;
    /** Running jobs whose client left: their slots come back at the job's next frame boundary. */
    this.aborting = 0;
    /** @type {{ grant: () => void, reject: (e: Error) => void }[]} */
    this.waiting = [];
  }
  /**
   * True when a new job would be refused: every slot busy and the waiting line full. A slot whose job
   * was aborted counts as free (it is released within a frame), and may be waited for.
   */
  get full() {
    return this.running - this.aborting >= this.maxJobs && this.waiting.length >= this.maxQueued;
  }
  /**
   * Resolves when the job may start; rejects if the queue is full or `signal` aborts while waiting.
   * @param {AbortSignal} signal
   * @returns {Promise<void>}
   */
  acquire(signal) {
    if (this.running < this.maxJobs && this.waiting.length === 0) {
      this.running += 1;
      return Promise.resolve();
    }
    if (this.waiting.length >= this.maxQueued + this.aborting) {
      return Promise.reject(new Refusal(503, "ERR_STCN_LIMIT", `the service is busy: ${this.running} jobs running and ${this.waiting.length} waiting`));
    }
    return new Promise((resolve, reject) => {
      const entry = {
        grant: () => {
          signal.removeEventListener("abort", onAbort);
          resolve();
        },
        /** @param {Error} e */
        reject: (e) => reject(e),
      };
      const onAbort = () => {
        this.waiting = this.waiting.filter((w) => w !== entry);
        reject(signal.reason);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.waiting.push(entry);
    });
  }
  release() {
    this.running -= 1;
    const next = this.waiting.shift();
    if (next) {
      this.running += 1;
      next.grant();
    }
  }
}

/**
 * Reads the multipart body into `dir`: files `video` / `frames` / `mask`, fields `output` / `size`.
 * @param {import("node:http").IncomingMessage} req
 * @param {string} dir
 * @param {ServiceLimits} limits
 * @returns {Promise<{ files: Map<string, string>, fields: Map<string, string> }>}
 */
function readUpload(req, dir, limits) {
  const type = req.headers["content-type"] ?? "";
  if (!/^multipart\/form-data\b/i.test(type)) {
    return Promise.reject(new Refusal(415, "ERR_STCN_INPUT", `expected multipart/form-data, got ${type ? JSON.stringify(type) : "no content type"}`));
  }
  const declared = Number(req.headers["content-length"] ?? NaN);
  if (declared > limits.uploadBytes) {
    return Promise.reject(new Refusal(413, "ERR_STCN_LIMIT", `upload of ${declared} bytes is over the limit of ${limits.uploadBytes} bytes`));
  }
  return new Promise((resolve, reject) => {
    /** @type {busboy.Busboy} */
    let parser;
    try {
      parser = busboy({ headers: req.headers, limits: { fileSize: limits.uploadBytes, files: 2, fields: 4, fieldSize: 1024, parts: 6 } });
    } catch (error) {
      reject(new Refusal(400, "ERR_STCN_INPUT", `malformed multipart request: ${/** @type {Error} */ (error).message}`));
      return;
    }
    const files = new Map();
    const fields = new Map();
    /** @type {Promise<void>[]} */
    const writes = [];
    let received = 0;
    /** @type {Refusal | undefined} */
    let failure;
    const fail = (/** @type {Refusal} */ refusal) => {
      failure ??= refusal;
      req.unpipe(parser);
      req.resume();  // drain the rest of the body so the 4xx reaches the client
    };
    parser.on("file", (name, stream, info) => {
      if (!["video", "frames", "mask"].includes(name) || files.has(name)) {
        stream.resume();
        fail(new Refusal(400, "ERR_STCN_INPUT", `unexpected file field ${JSON.stringify(name)} (expected video or frames, and mask)`));
        return;
      }
      const ext = extname(info.filename ?? "").toLowerCase().replace(/[^.a-z0-9]/g, "").slice(0, 8);
      const path = join(dir, `${name}${ext}`);
      files.set(name, path);
      stream.on("data", (/** @type {Buffer} */ chunk) => {
        received += chunk.length;
        if (received > limits.uploadBytes) fail(new Refusal(413, "ERR_STCN_LIMIT", `upload is over the limit of ${limits.uploadBytes} bytes`));
      });
      stream.on("limit", () => fail(new Refusal(413, "ERR_STCN_LIMIT", `upload is over the limit of ${limits.uploadBytes} bytes`)));
      writes.push(pipeline(stream, createWriteStream(path)));
    });
    parser.on("field", (name, value, info) => {
      if (!["output", "size"].includes(name) || info.valueTruncated) {
        fail(new Refusal(400, "ERR_STCN_INPUT", `unexpected field ${JSON.stringify(name)} (expected output, size)`));
        return;
      }
      fields.set(name, value);
    });
    parser.on("partsLimit", () => fail(new Refusal(400, "ERR_STCN_INPUT", "too many parts in the upload")));
    parser.on("filesLimit", () => fail(new Refusal(400, "ERR_STCN_INPUT", "too many files in the upload")));
    parser.on("fieldsLimit", () => fail(new Refusal(400, "ERR_STCN_INPUT", "too many fields in the upload")));
    parser.on("error", (error) => {
      failure ??= new Refusal(400, "ERR_STCN_INPUT", `malformed multipart request: ${/** @type {Error} */ (error).message}`);
      req.resume();
      Promise.allSettled(writes).then(() => reject(failure));
    });
    parser.on("close", () => {
      Promise.all(writes).then(
        () => (failure ? reject(failure) : resolve({ files, fields })),
        (error) => reject(failure ?? new Refusal(400, "ERR_STCN_INPUT", `upload failed: ${error.message}`)),
      );
    });
    req.on("aborted", () => reject(new Refusal(400, "ERR_STCN_INPUT", "the client closed the upload")));
    req.pipe(parser);
  });
}

/**
 * Unzips the frames (on fflate's worker threads) into `dir` as 00000.<ext>, ... in name order.
 * Only declared sizes within the limits are inflated (a zip bomb is refused from its directory).
 * @param {string} zipPath
 * @param {string} dir
 * @param {ServiceLimits} limits
 * @returns {Promise<string[]>} the frame paths
 */
async function extractFrames(zipPath, dir, limits) {
  const data = new Uint8Array(await readFile(zipPath));
  /** @type {Refusal | undefined} */
  let refused;
  let count = 0;
  let total = 0;
  // Frames are JPEG/PNG, already compressed: the entries inflate to about the zip's size. More than
  // four times the upload limit is refused from the zip's directory, before anything is inflated.
  const maxBytes = 4 * limits.uploadBytes;
  /** @type {Record<string, Uint8Array>} */
  const entries = await new Promise((resolve, reject) => {
    try {
      unzip(
        data,
        {
          filter: (file) => {
            if (file.name.endsWith("/")) return false;
            const base = file.name.split("/").pop() ?? "";
            if (base.startsWith(".") || base.startsWith("__MACOSX")) return false;
            if (!FRAME_EXTENSIONS.has(extname(base).toLowerCase())) {
              refused ??= new Refusal(400, "ERR_STCN_INPUT", `zip entry ${JSON.stringify(file.name)} is not a .jpg/.jpeg/.png frame`);
              return false;
            }
            count += 1;
            total += file.originalSize;
            if (count > limits.frames) refused ??= new Refusal(422, "ERR_STCN_LIMIT", `the zip holds more than ${limits.frames} frames`);
            if (total > maxBytes) refused ??= new Refusal(422, "ERR_STCN_LIMIT", `the zip's frames inflate to more than ${maxBytes} bytes`);
            return !refused;
          },
        },
        (error, files) => (error ? reject(new Refusal(400, "ERR_STCN_INPUT", `frames is not a readable zip: ${error.message}`)) : resolve(files)),
      );
    } catch (error) {
      reject(new Refusal(400, "ERR_STCN_INPUT", `frames is not a readable zip: ${/** @type {Error} */ (error).message}`));
    }
  });
  if (refused) throw refused;
  const names = Object.keys(entries).sort();
  if (names.length === 0) throw new Refusal(400, "ERR_STCN_INPUT", "the zip holds no .jpg/.jpeg/.png frames");
  await mkdir(dir);
  const paths = [];
  for (const [i, name] of names.entries()) {
    // Our own names: nothing from the archive becomes a path.
    const path = join(dir, `${String(i).padStart(5, "0")}${extname(name).toLowerCase()}`);
    await writeFile(path, /** @type {Uint8Array} */ (entries[name]));
    paths.push(path);
  }
  return paths;
}

/**
 * Checks a frame's header (sharp reads only the header): size and pixel count.
 * @param {string} path
 * @param {number} index
 * @param {ServiceLimits} limits
 */
async function frameSize(path, index, limits) {
  let meta;
  try {
    meta = await sharp(path).metadata();
  } catch (error) {
    throw new Refusal(400, "ERR_STCN_INPUT", `frame ${index} is not a readable image: ${/** @type {Error} */ (error).message}`);
  }
  const { width = 0, height = 0 } = meta;
  if (width * height > limits.pixels) throw new Refusal(422, "ERR_STCN_LIMIT", `frame ${index} is ${width}x${height}, over the limit of ${limits.pixels} pixels`);
  return { width, height };
}

/**
 * Validates an upload and prepares its job: everything that can be refused is refused here,
 * before the 200 is sent.
 * @param {Map<string, string>} files
 * @param {Map<string, string>} fields
 * @param {string} dir
 * @param {ServiceLimits} limits
 */
async function prepareJob(files, fields, dir, limits) {
  const video = files.get("video");
  const zip = files.get("frames");
  const maskPath = files.get("mask");
  if ((video === undefined) === (zip === undefined)) throw new Refusal(400, "ERR_STCN_INPUT", "send exactly one of the files video and frames (a zip)");
  if (maskPath === undefined) throw new Refusal(400, "ERR_STCN_INPUT", "send the first frame's mask as the file mask");
  const output = fields.get("output") ?? "png";
  if (output !== "png" && output !== "video") throw new Refusal(400, "ERR_STCN_ARGUMENT", `output must be png or video, got ${JSON.stringify(output)}`);
  const sizeText = fields.get("size");
  const size = sizeText === undefined ? undefined : Number(sizeText);
  if (size !== undefined && (!Number.isInteger(size) || size < 0 || size > 2048)) {
    throw new Refusal(400, "ERR_STCN_ARGUMENT", `size must be an integer in [0, 2048], got ${JSON.stringify(sizeText)}`);
  }
  const maskName = "the mask";
  const maskInfo = await stat(maskPath);
  if (maskInfo.size === 0) throw new Refusal(400, "ERR_STCN_INPUT", `${maskName} is empty`);
  // ERR_STCN_INPUT / ERR_STCN_IMAGE_TOO_LARGE name the file; the second comes from the PNG header,
  // before decoding, under the process-wide pixel limit (main.mjs sets it to the service's limit).
  const mask = await readLabelPng(maskPath);
  if (mask.width * mask.height > limits.pixels) {
    throw new Refusal(422, "ERR_STCN_LIMIT", `${maskName} is ${mask.width}x${mask.height}, over the limit of ${limits.pixels} pixels`);
  }
  let width;
  let height;
  let frames;
  /** @type {string[]} */
  let framePaths = [];
  if (video !== undefined) {
    const info = await probeVideo(video);  // ERR_STCN_VIDEO for anything ffprobe cannot read
    if (info.width * info.height > limits.pixels) throw new Refusal(422, "ERR_STCN_LIMIT", `the video is ${info.width}x${info.height}, over the limit of ${limits.pixels} pixels`);
    if (info.frameCount > limits.frames) throw new Refusal(422, "ERR_STCN_LIMIT", `the video has ${info.frameCount} frames, over the limit of ${limits.frames}`);
    if (info.duration > limits.durationSeconds) throw new Refusal(422, "ERR_STCN_LIMIT", `the video lasts ${info.duration.toFixed(1)} s, over the limit of ${limits.durationSeconds} s`);
    ({ width, height } = info);
    frames = info.frameCount;
  } else {
    framePaths = await extractFrames(/** @type {string} */ (zip), join(dir, "frames"), limits);
    ({ width, height } = await frameSize(framePaths[0] ?? "", 0, limits));
    for (let i = 1; i < framePaths.length; i++) {
      const s = await frameSize(framePaths[i] ?? "", i, limits);
      if (s.width !== width || s.height !== height) throw new Refusal(400, "ERR_STCN_INPUT", `frame ${i} is ${s.width}x${s.height} but frame 0 is ${width}x${height}`);
    }
    frames = framePaths.length;
  }
  if (mask.width !== width || mask.height !== height) {
    throw new Refusal(400, "ERR_STCN_INPUT", `${maskName} is ${mask.width}x${mask.height} but the frames are ${width}x${height}`);
  }
  return { video, framesDir: video === undefined ? join(dir, "frames") : undefined, maskPath, output, size, width, height, frames };
}

/**
 * Creates the service (not listening yet: call `.listen(port, "127.0.0.1")`).
 * @param {ServiceOptions} options
 * @returns {import("node:http").Server & { stats: () => { running: number, waiting: number, jobs: number } }}
 */
export function createSegmentService(options) {
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const slots = new JobSlots(options.maxJobs ?? 2, options.maxQueued ?? 8);
  // Checked here, so that a bad value stops the service at start instead of failing every job.
  const memoryBudget = parseByteSize(options.memoryBudget ?? "256MiB", "memoryBudget");
  let jobs = 0;

  /**
   * @param {import("node:http").IncomingMessage} req
   * @param {import("node:http").ServerResponse} res
   */
  async function segment(req, res) {
    const controller = new AbortController();
    // The client going away (before the answer is complete) aborts the job.
    let slot = false;
    let aborting = false;  // this job's slot is counted in slots.aborting
    res.on("close", () => {
      if (res.writableFinished || controller.signal.aborted) return;
      controller.abort(new Error("the client disconnected"));
      if (slot) {
        aborting = true;
        slots.aborting += 1;
      }
    });
    if (slots.full) {
      // Busy: refused before the upload is read (the body is drained up to the upload limit).
      await drain(req, limits.uploadBytes);
      sendJson(res, 503, { error: { code: "ERR_STCN_LIMIT", message: `the service is busy: ${slots.running} jobs running and ${slots.waiting.length} waiting` } });
      return;
    }
    const dir = await mkdtemp(join(tmpdir(), "stcn-service-"));
    try {
      const { files, fields } = await readUpload(req, dir, limits);
      const job = await prepareJob(files, fields, dir, limits);
      await slots.acquire(controller.signal);
      slot = true;
      controller.signal.throwIfAborted();
      jobs += 1;
      res.writeHead(200, { "content-type": "application/x-ndjson", "cache-control": "no-store" });
      const line = (/** @type {unknown} */ value) => res.write(`${JSON.stringify(value)}\n`);
      line({ event: "started", frames: job.frames, width: job.width, height: job.height });
      const onFrame = (/** @type {{ index: number }} */ f, /** @type {number} */ total) => line({ event: "progress", frame: f.index, total });
      const common = { memoryBudget, size: job.size ?? options.size ?? 480, signal: controller.signal, onFrame };
      const out = join(dir, "out");
      const labelsVideo = join(dir, "labels.mkv");
      const t0 = performance.now();
      try {
        const result = job.video
          ? await segmentVideo(options.model, { ...common, video: job.video, mask: job.maskPath, ...(job.output === "png" ? { out } : { outMasksVideo: labelsVideo }) })
          : await segmentFolder(options.model, { ...common, frames: /** @type {string} */ (job.framesDir), mask: job.maskPath, out });
        const done = { event: "done", frames: result.frames, objectIds: result.objectIds, seconds: (performance.now() - t0) / 1000, output: job.output };
        if (job.output === "png" || !job.video) {
          const names = (await readdir(out)).sort();
          const masks = [];
          for (const name of names) masks.push({ name, data: (await readFile(join(out, name))).toString("base64") });
          line({ ...done, output: "png", masks });
        } else {
          line({ ...done, video: { name: "labels.mkv", data: (await readFile(labelsVideo)).toString("base64") } });
        }
      } catch (error) {
        if (!controller.signal.aborted) {
          const code = isStcnError(error) ? error.code : "ERR_STCN_INTERNAL";
          line({ event: "error", code, message: error instanceof Error ? error.message : String(error) });
        } else if (!isAbortError(error)) {
          throw error;
        }
      }
      res.end();
    } catch (error) {
      if (controller.signal.aborted) return;  // nobody is listening any more
      const refusal = refusalOf(error);
      await drain(req, 2 * limits.uploadBytes);
      sendJson(res, refusal.status, { error: { code: refusal.code, message: refusal.message } });
    } finally {
      if (slot) {
        if (aborting) slots.aborting -= 1;
        slots.release();
      }
      await rm(dir, { recursive: true, force: true });
    }
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (url.pathname === "/health" && req.method === "GET") {
      sendJson(res, 200, { ok: true, running: slots.running, waiting: slots.waiting.length, jobs, rss: process.memoryUsage().rss });
      return;
    }
    if (url.pathname !== "/segment") {
      req.resume();
      sendJson(res, 404, { error: { code: "ERR_STCN_ARGUMENT", message: `no route ${url.pathname} (POST /segment)` } });
      return;
    }
    if (req.method !== "POST") {
      req.resume();
      sendJson(res, 405, { error: { code: "ERR_STCN_ARGUMENT", message: `${req.method} /segment: use POST` } });
      return;
    }
    segment(req, res).catch((error) => {
      // A bug: answer it and keep serving.
      sendJson(res, 500, { error: { code: "ERR_STCN_INTERNAL", message: error instanceof Error ? error.message : String(error) } });
    });
  });
  return Object.assign(server, { stats: () => ({ running: slots.running, waiting: slots.waiting.length, jobs }) });
}

export { StcnError };
