/**
 * The example service (examples/service/) under load, against 127.0.0.1 only, in a child process:
 *  - its code type-checks (JSDoc types, `tsc -p examples/service`);
 *  - 40 requests, 8 at a time, a quarter of them malformed: every good request gets the labels a
 *    direct library call gives (byte-identical PNGs), every bad one its 4xx with an ERR_STCN_ code,
 *    the process stays up and its RSS stays bounded; p50/p95 latency printed;
 *  - a client that disconnects mid-job frees the worker: with one job slot, the next request starts
 *    at once instead of after the abandoned job.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { zipSync } from "fflate";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeLabelPng, encodeRgb, generateClip, segmentFolder, segmentVideo, setNumThreads, Stcn } from "../dist/index.js";
import { repoRoot, tempDir } from "./helpers.js";

const model = join(repoRoot, "models", "demo", "stcn-demo.pt");
const main = join(repoRoot, "examples", "service", "main.mjs");
const W = 160;
const H = 128;
const FRAMES = 12;
const SIZE = 128;
const LIMITS = { upload: 1_000_000, pixels: W * H, frames: 40, duration: 10 };

let dir: string;
interface Clip {
  zip: Uint8Array;
  mask: Uint8Array;
  reference: Buffer[];
}
const clips: Clip[] = [];
let video: Uint8Array;
let videoReference: Buffer[];
let longVideo: Uint8Array;
let tinyPng: Uint8Array;
let overVideo: Uint8Array;

interface Service {
  child: ChildProcess;
  url: string;
  peakRssMb: () => number;
  rssMb: () => number;
  stop: () => Promise<number | null>;
}

function rssOf(pid: number, field: "VmRSS" | "VmHWM"): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : 0;
}

async function startService(extra: string[]): Promise<Service> {
  const child = spawn(process.execPath, [main, "--port", "0", "--size", String(SIZE), ...extra], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, STCN_NUM_THREADS: "1" },
  });
  let stderr = "";
  child.stderr?.on("data", (b: Buffer) => (stderr += b.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout?.on("data", (b: Buffer) => {
      out += b.toString();
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) resolve(m[1] as string);
    });
    child.on("exit", (code) => reject(new Error(`service exited (${code}): ${stderr}`)));
  });
  const pid = child.pid as number;
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return {
    child,
    url,
    peakRssMb: () => rssOf(pid, "VmHWM"),
    rssMb: () => rssOf(pid, "VmRSS"),
    stop: async () => {
      // SIGTERM is the graceful stop; a service that does not exit within 10 s (a hang) is killed,
      // so that a failing run leaves no process behind.
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

function pngs(folder: string): Buffer[] {
  return readdirSync(folder).sort().map((n) => readFileSync(join(folder, n)));
}

function ffmpeg(args: string[]): void {
  execFileSync("ffmpeg", ["-nostdin", "-hide_banner", "-v", "error", "-y", ...args], { stdio: ["ignore", "ignore", "pipe"] });
}

beforeAll(async () => {
  setNumThreads(1);
  dir = tempDir("stcn-service-");
  const stcn = await Stcn.load(model);
  try {
    for (let c = 0; c < 3; c++) {
      const clip = generateClip({ seed: 300 + c, width: W, height: H, frames: FRAMES, objects: 1 + c });
      const files: Record<string, Uint8Array> = {};
      const frames = join(dir, `clip${c}`, "frames");
      mkdirSync(frames, { recursive: true });
      for (let i = 0; i < FRAMES; i++) {
        const png = await encodeRgb({ data: clip.frames[i] as Uint8Array, width: W, height: H });
        files[`clip/frame-${String(i).padStart(3, "0")}.png`] = png;
        writeFileSync(join(frames, `${String(i).padStart(5, "0")}.png`), png);
      }
      const mask = encodeLabelPng(clip.masks[0] as Uint8Array, W, H);
      writeFileSync(join(dir, `clip${c}`, "mask.png"), mask);
      await segmentFolder(stcn, { frames, mask: join(dir, `clip${c}`, "mask.png"), out: join(dir, `clip${c}`, "out"), size: SIZE, memoryBudget: "256MiB" });
      clips.push({ zip: zipSync(files), mask, reference: pngs(join(dir, `clip${c}`, "out")) });
    }
    // A video of clip 0's frames (lossless, so decoding gives the frames back) and a long one for the disconnect test.
    ffmpeg(["-framerate", "10", "-i", join(dir, "clip0", "frames", "%05d.png"), "-c:v", "ffv1", "-pix_fmt", "bgr0", join(dir, "clip0.mkv")]);
    video = readFileSync(join(dir, "clip0.mkv"));
    await segmentVideo(stcn, { video: join(dir, "clip0.mkv"), mask: join(dir, "clip0", "mask.png"), out: join(dir, "clip0", "video-out"), size: SIZE, memoryBudget: "256MiB" });
    videoReference = pngs(join(dir, "clip0", "video-out"));
    ffmpeg(["-f", "lavfi", "-i", `testsrc2=size=${W}x${H}:rate=25`, "-frames:v", "1500", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", join(dir, "long.mp4")]);
    longVideo = readFileSync(join(dir, "long.mp4"));
    tinyPng = await encodeRgb({ data: new Uint8Array(16 * 16 * 3).fill(90), width: 16, height: 16 });
    ffmpeg(["-i", join(dir, "long.mp4"), "-frames:v", "60", "-c", "copy", join(dir, "over.mp4")]);
    overVideo = readFileSync(join(dir, "over.mp4"));
  } finally {
    stcn.dispose();
  }
}, 300_000);

interface Reply {
  status: number;
  ms: number;
  json?: { error: { code: string; message: string } };
  lines?: Array<Record<string, unknown>>;
}

function form(parts: Record<string, Uint8Array | string>): FormData {
  const f = new FormData();
  for (const [name, value] of Object.entries(parts)) {
    if (typeof value === "string") f.append(name, value);
    else f.append(name, new Blob([value]), name === "mask" ? "mask.png" : name === "frames" ? "frames.zip" : "video.bin");
  }
  return f;
}

// No request of these tests takes a minute: one that does is a hung request, reported as such.
const REQUEST_TIMEOUT_MS = 60_000;

async function post(url: string, body: FormData | string, name = "request"): Promise<Reply> {
  const t0 = performance.now();
  const signal = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
  const init = typeof body === "string" ? { method: "POST", body, headers: { "content-type": "text/plain" }, signal } : { method: "POST", body, signal };
  const res = await fetch(`${url}/segment`, init).catch((error: unknown) => {
    throw new Error(`${name}: no answer (${String(error)})`, { cause: error });
  });
  const text = await res.text().catch((error: unknown) => {
    throw new Error(`${name}: the answer did not finish (${String(error)})`, { cause: error });
  });
  const ms = performance.now() - t0;
  if (res.headers.get("content-type") === "application/x-ndjson") {
    return { status: res.status, ms, lines: text.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>) };
  }
  return { status: res.status, ms, json: JSON.parse(text) as Reply["json"] };
}

type Case = { name: string; body: () => FormData | string; check: (r: Reply) => void };

function good(c: number): Case {
  const clip = clips[c] as Clip;
  return {
    name: `zip clip ${c}`,
    body: () => form({ frames: clip.zip, mask: clip.mask }),
    check: (r) => {
      expect(r.status).toBe(200);
      const lines = r.lines ?? [];
      expect(lines[0]).toMatchObject({ event: "started", frames: FRAMES, width: W, height: H });
      expect(lines.filter((l) => l.event === "progress").length).toBe(FRAMES);
      const done = lines.at(-1) as { event: string; masks: Array<{ name: string; data: string }> };
      expect(done.event).toBe("done");
      expect(done.masks.map((m) => Buffer.from(m.data, "base64"))).toEqual(clip.reference);
    },
  };
}

const goodVideo: Case = {
  name: "video clip 0",
  body: () => form({ video, mask: (clips[0] as Clip).mask }),
  check: (r) => {
    expect(r.status).toBe(200);
    const done = r.lines?.at(-1) as { event: string; masks: Array<{ name: string; data: string }> };
    expect(done.event).toBe("done");
    expect(done.masks.map((m) => Buffer.from(m.data, "base64"))).toEqual(videoReference);
  },
};

function bad(name: string, status: number, code: string, body: () => FormData | string, message?: RegExp): Case {
  return {
    name,
    body,
    check: (r) => {
      expect(r.status, `${name}: ${JSON.stringify(r.json ?? r.lines?.at(-1))}`).toBe(status);
      expect(r.json?.error.code).toBe(code);
      if (message) expect(r.json?.error.message).toMatch(message);
    },
  };
}

function malformed(): Case[] {
  const clip = clips[0] as Clip;
  const otherClip = generateClip({ seed: 9, width: W / 2, height: H, frames: 2, objects: 1 });
  const otherMask = encodeLabelPng(otherClip.masks[0] as Uint8Array, W / 2, H);
  const tooMany: Record<string, Uint8Array> = {};
  // Small frames, so that the zip stays under the upload limit and the frame count is what is over.
  const tiny = tinyPng;
  for (let i = 0; i < LIMITS.frames + 1; i++) tooMany[`f${String(i).padStart(3, "0")}.png`] = tiny;
  return [
    bad("not multipart", 415, "ERR_STCN_INPUT", () => "hello"),
    bad("garbage zip", 400, "ERR_STCN_INPUT", () => form({ frames: new Uint8Array(500).fill(7), mask: clip.mask }), /not a readable zip/),
    bad("zip with a text file", 400, "ERR_STCN_INPUT", () => form({ frames: zipSync({ "notes.txt": new TextEncoder().encode("hi") }), mask: clip.mask }), /not a \.jpg/),
    bad("no mask", 400, "ERR_STCN_INPUT", () => form({ frames: clip.zip }), /mask/),
    bad("garbage mask", 400, "ERR_STCN_INPUT", () => form({ frames: clip.zip, mask: new Uint8Array(64).fill(1) }), /not a readable PNG/),
    bad("mask of another size", 400, "ERR_STCN_INPUT", () => form({ frames: clip.zip, mask: otherMask }), /80x128 but the frames are 160x128/),
    bad("too many frames", 422, "ERR_STCN_LIMIT", () => form({ frames: zipSync(tooMany, { level: 0 }), mask: clip.mask }), /more than 40 frames/),
    bad("upload too large", 413, "ERR_STCN_LIMIT", () => form({ video: new Uint8Array(LIMITS.upload + 1000), mask: clip.mask })),
    bad("garbage video", 400, "ERR_STCN_VIDEO", () => form({ video: new Uint8Array(4000).fill(3), mask: clip.mask })),
    bad("too long a video", 422, "ERR_STCN_LIMIT", () => form({ video: overVideo, mask: clip.mask }), /60 frames, over the limit of 40/),
  ];
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

describe("example service", () => {
  it("type-checks (JSDoc types, checkJs)", () => {
    execFileSync(process.execPath, [join(repoRoot, "node_modules", "typescript", "bin", "tsc"), "-p", join(repoRoot, "examples", "service", "tsconfig.json")], { stdio: "pipe" });
  }, 120_000);

  let service: Service | undefined;
  afterAll(async () => {
    await service?.stop();
  });

  it("40 requests, 8 at a time, a quarter malformed: right labels, right 4xx, no crash, RSS bounded", async () => {
    service = await startService(["--max-jobs", "2", "--max-queued", "40", "--max-upload", String(LIMITS.upload), "--max-pixels", String(LIMITS.pixels), "--max-frames", String(LIMITS.frames), "--max-duration", String(LIMITS.duration)]);
    const svc = service;
    const badCases = malformed();
    const cases: Case[] = [];
    for (let i = 0; i < 40; i++) {
      if (i % 4 === 3) cases.push(badCases[((i - 3) / 4) % badCases.length] as Case);
      else cases.push(i % 5 === 0 ? goodVideo : good(i % 3));
    }
    const replies: Array<{ c: Case; r: Reply }> = [];
    let next = 0;
    let warmRss = 0;
    let maxRss = 0;
    const sampler = setInterval(() => (maxRss = Math.max(maxRss, svc.rssMb())), 50);
    async function worker(): Promise<void> {
      while (next < cases.length) {
        const c = cases[next++] as Case;
        replies.push({ c, r: await post(svc.url, c.body(), c.name) });
        if (replies.length === 8) warmRss = svc.rssMb();
      }
    }
    await Promise.all(Array.from({ length: 8 }, () => worker()));
    clearInterval(sampler);
    for (const { c, r } of replies) c.check(r);
    const health = (await (await fetch(`${svc.url}/health`)).json()) as { ok: boolean; running: number; waiting: number; jobs: number };
    expect(health).toMatchObject({ ok: true, running: 0, waiting: 0, jobs: 30 });
    const goodMs = replies.filter((x) => x.r.status === 200).map((x) => x.r.ms).sort((a, b) => a - b);
    const badMs = replies.filter((x) => x.r.status !== 200).map((x) => x.r.ms).sort((a, b) => a - b);
    const peak = svc.peakRssMb();
    console.log(
      `service load: ${goodMs.length} good requests p50 ${percentile(goodMs, 50).toFixed(0)} ms p95 ${percentile(goodMs, 95).toFixed(0)} ms; ` +
        `${badMs.length} malformed p50 ${percentile(badMs, 50).toFixed(0)} ms p95 ${percentile(badMs, 95).toFixed(0)} ms; ` +
        `RSS after 8 replies ${warmRss.toFixed(0)} MiB, max ${maxRss.toFixed(0)} MiB, peak (VmHWM) ${peak.toFixed(0)} MiB`,
    );
    expect(goodMs.length).toBe(30);
    expect(badMs.length).toBe(10);
    expect(svc.child.exitCode).toBe(null);
    // Bounded: the jobs of 8 concurrent clients at 160x128 need far less than this; a service that
    // kept uploads, results or memory banks around would cross it within the 40 requests.
    expect(peak).toBeLessThan(1024);
    expect(maxRss - warmRss).toBeLessThan(150);
  }, 600_000);

  it("a client disconnect mid-job frees the worker: the next request starts at once; busy is 503 before the upload is read", async () => {
    const svc = await startService(["--max-jobs", "1", "--max-queued", "0", "--max-frames", "2000", "--max-duration", "120", "--max-upload", String(8 * 2 ** 20), "--max-pixels", String(LIMITS.pixels)]);
    try {
      const controller = new AbortController();
      const res = await fetch(`${svc.url}/segment`, { method: "POST", body: form({ video: longVideo, mask: (clips[0] as Clip).mask }), signal: controller.signal });
      expect(res.status).toBe(200);
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      let text = "";
      while ((text.match(/"progress"/g) ?? []).length < 5) text += new TextDecoder().decode((await reader.read()).value);
      const started = JSON.parse(text.split("\n")[0] as string) as { frames: number };
      expect(started.frames).toBe(1500);
      // The one job slot is taken and no one may wait: refused at once with 503, the process stays up.
      const busy = await post(svc.url, form({ frames: (clips[1] as Clip).zip, mask: (clips[1] as Clip).mask }));
      expect(busy.status).toBe(503);
      expect(busy.json?.error.code).toBe("ERR_STCN_LIMIT");
      expect(busy.json?.error.message).toMatch(/busy: 1 jobs running and 0 waiting/);
      controller.abort();
      const t0 = performance.now();
      const r = await post(svc.url, form({ frames: (clips[1] as Clip).zip, mask: (clips[1] as Clip).mask }));
      const ms = performance.now() - t0;
      good(1).check(r);
      const health = (await (await fetch(`${svc.url}/health`)).json()) as { running: number; jobs: number };
      expect(health).toMatchObject({ running: 0, jobs: 2 });
      // The abandoned job had about 1495 frames to go; the next one ran in the time of its own 12.
      const perFrame = (r.lines?.at(-1) as { seconds: number }).seconds / FRAMES;
      console.log(`after a disconnect, the next request took ${ms.toFixed(0)} ms (${(1000 * perFrame).toFixed(1)} ms/frame; the abandoned job had ${1500 - 5} frames left)`);
      expect(ms).toBeLessThan(1000 * perFrame * (FRAMES + 100));
      // A mask whose PNG header declares more pixels than --max-pixels is refused from its header.
      const big = encodeLabelPng(new Uint8Array(2 * W * 2 * H), 2 * W, 2 * H);
      const tooLarge = await post(svc.url, form({ frames: (clips[1] as Clip).zip, mask: big }));
      expect(tooLarge.status).toBe(422);
      expect(tooLarge.json?.error.code).toBe("ERR_STCN_IMAGE_TOO_LARGE");
      expect(svc.child.exitCode).toBe(null);
    } finally {
      await svc.stop();
    }
  }, 300_000);

  it("a bad --memory-budget stops the service at start with one line", () => {
    const r = spawnSync(process.execPath, [main, "--port", "0", "--memory-budget", "lots"], { encoding: "utf8" });
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/--memory-budget must be a size in bytes.*"lots"/);
  });
});
