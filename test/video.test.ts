/**
 * Video files in and out (`stcn segment --video`): a lossless video made here from the real judo
 * frames is segmented through the ffmpeg pipe and must give the labels of the same frames segmented
 * from a folder (the frames decoded by ffmpeg to PNG); the overlay and label videos are checked with
 * ffprobe and by decoding; bad videos get one line and exit 1 with nothing written; a 3000-frame
 * video streams in bounded memory. Model: the bundled demo STCN at a small working size.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import sharp from "sharp";
import { beforeAll, describe, expect, it } from "vitest";
import { decodeVideo, probeVideo, segmentVideo, Stcn } from "../dist/index.js";
import { readLabelPng } from "../dist/io/png.js";
import { dataRoot, python, repoRoot, tempDir } from "./helpers.js";

const judo = join(dataRoot, "clips", "judo");
const cli = join(repoRoot, "dist", "cli.js");
const model = join(repoRoot, "models", "demo", "stcn-demo.pt");
const SIZE = "96";
const name = (i: number): string => String(i).padStart(5, "0");

function ffmpeg(args: string[]): void {
  execFileSync("ffmpeg", ["-nostdin", "-hide_banner", "-v", "error", "-y", ...args], { stdio: ["ignore", "ignore", "pipe"] });
}

function ffprobe(path: string, entries: string, extra: string[] = []): Record<string, string> {
  const out = execFileSync("ffprobe", ["-v", "error", ...extra, "-select_streams", "v:0", "-show_entries", entries, "-of", "json", path], { encoding: "utf8" });
  return (JSON.parse(out) as { streams: Array<Record<string, string>> }).streams[0] as Record<string, string>;
}

function stcn(args: string[], env: NodeJS.ProcessEnv = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", timeout: 600_000, env: { ...process.env, ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

let dir: string;
let video: string;

beforeAll(() => {
  dir = tempDir("stcn-video-");
  // Lossless (FFV1) video of the 16 judo frames at 24 fps; the same frames as PNGs, decoded by ffmpeg.
  video = join(dir, "judo.mkv");
  ffmpeg(["-framerate", "24", "-i", join(judo, "frames", "%05d.jpg"), "-c:v", "ffv1", video]);
  mkdirSync(join(dir, "png"));
  ffmpeg(["-i", video, "-start_number", "0", join(dir, "png", "%05d.png")]);
});

describe("containers and codecs", () => {
  it("mp4/h264, mov/h264, webm/vp9 (lossless) decode to the same frames as the FFV1 Matroska", async () => {
    const reference: Buffer[] = [];
    for await (const f of decodeVideo(video)) reference.push(Buffer.from(f.data));
    expect(reference).toHaveLength(16);
    const variants: Array<[string, string[]]> = [
      ["judo.mp4", ["-c:v", "libx264", "-qp", "0", "-pix_fmt", "yuv420p"]],
      ["judo.mov", ["-c:v", "libx264", "-qp", "0", "-pix_fmt", "yuv420p"]],
      ["judo.webm", ["-c:v", "libvpx-vp9", "-lossless", "1", "-pix_fmt", "yuv420p"]],
    ];
    for (const [file, codec] of variants) {
      const path = join(dir, file);
      ffmpeg(["-i", video, ...codec, path]);
      const info = await probeVideo(path);
      expect([info.width, info.height, info.fps, info.frameCount], file).toEqual([854, 480, 24, 16]);
      let n = 0;
      for await (const f of decodeVideo(path)) {
        expect(Buffer.compare(Buffer.from(f.data), reference[f.index] as Buffer), `${file} frame ${f.index}`).toBe(0);
        n++;
      }
      expect(n, file).toBe(16);
    }
  });
});

describe("segment --video", () => {
  let folderOut: string;
  let videoOut: string;
  let overlay: string;
  let masksVideo: string;
  beforeAll(() => {
    folderOut = join(dir, "from-folder");
    videoOut = join(dir, "from-video");
    overlay = join(dir, "overlay.mp4");
    masksVideo = join(dir, "masks.mkv");
    const mask = join(judo, "masks", "00000.png");
    const a = stcn(["segment", "--model", model, "--frames", join(dir, "png"), "--mask", mask, "--size", SIZE, "--out", folderOut, "--no-progress"]);
    expect(a.stderr).toBe("");
    expect(a.status).toBe(0);
    const b = stcn([
      "segment", "--model", model, "--video", video, "--mask", mask, "--size", SIZE, "--out", videoOut,
      "--out-video", overlay, "--out-masks-video", masksVideo, "--no-progress",
    ]);
    expect(b.stderr).toBe("");
    expect(b.status).toBe(0);
    expect(b.stdout).toContain("segmented 16 frames (854x480");
  });

  it("gives the labels of the same frames segmented from a folder, named %05d by video frame", async () => {
    const names = readdirSync(videoOut).sort();
    expect(names).toEqual(Array.from({ length: 16 }, (_, i) => `${name(i)}.png`));
    let objects = 0;
    for (const n of names) {
      const fromVideo = await readLabelPng(join(videoOut, n));
      const fromFolder = await readLabelPng(join(folderOut, n));
      expect([fromVideo.width, fromVideo.height]).toEqual([854, 480]);
      expect(Buffer.compare(Buffer.from(fromVideo.data), Buffer.from(fromFolder.data)), n).toBe(0);
      objects += fromVideo.data.reduce((s, v) => s + (v === 1 ? 1 : 0), 0);
    }
    expect(objects).toBeGreaterThan(1000);  // the object is tracked, not an empty result
  });

  it("writes an H.264 yuv420p overlay video with the input's frame count, size and rate", () => {
    const s = ffprobe(overlay, "stream=codec_name,pix_fmt,width,height,r_frame_rate,nb_read_frames", ["-count_frames"]);
    expect(s).toMatchObject({ codec_name: "h264", pix_fmt: "yuv420p", width: 854, height: 480, r_frame_rate: "24/1", nb_read_frames: "16" });
  });

  it("overlays the masks: object pixels are tinted, the background is the frame", async () => {
    const frames: Uint8Array[] = [];
    for await (const f of decodeVideo(overlay, { start: 7, end: 7 })) frames.push(f.data);
    const labels = (await readLabelPng(join(videoOut, "00007.png"))).data;
    const original: Uint8Array[] = [];
    for await (const f of decodeVideo(video, { start: 7, end: 7 })) original.push(f.data);
    const ov = frames[0] as Uint8Array;
    const rgb = original[0] as Uint8Array;
    // Mean red excess over the source frame: high inside object 1 (DAVIS colour (128,0,0)), ~0 outside.
    let inside = 0, nIn = 0, outside = 0, nOut = 0;
    for (let i = 0; i < labels.length; i++) {
      const d = (ov[3 * i] as number) - (ov[3 * i + 1] as number) - ((rgb[3 * i] as number) - (rgb[3 * i + 1] as number));
      if (labels[i] === 1) { inside += d; nIn++; } else { outside += Math.abs(d); nOut++; }
    }
    // Measured on frames 0, 7, 15: inside 63.2-65.4 (0.55 x 128 = 70 less the outlines and H.264 loss),
    // outside 1.17-1.60 (CRF 18 and yuv420p chroma subsampling bleed across the outlines).
    expect(inside / nIn).toBeGreaterThan(30);
    expect(outside / nOut).toBeLessThan(6);
  });

  it("writes a lossless label video that decodes back to the labels exactly", async () => {
    const s = ffprobe(masksVideo, "stream=codec_name,pix_fmt,width,height,r_frame_rate");
    expect(s).toMatchObject({ codec_name: "ffv1", pix_fmt: "gray", width: 854, height: 480, r_frame_rate: "24/1" });
    let n = 0;
    for await (const f of decodeVideo(masksVideo, { pixelFormat: "gray" })) {
      const png = await readLabelPng(join(videoOut, `${name(f.index)}.png`));
      expect(Buffer.compare(Buffer.from(f.data), Buffer.from(png.data)), `frame ${f.index}`).toBe(0);
      n++;
    }
    expect(n).toBe(16);
  });

  it("takes a frame range: --start-frame, --end-frame (inclusive), --every", async () => {
    const out = join(dir, "range");
    const r = stcn([
      "segment", "--model", model, "--video", video, "--mask", join(judo, "masks", "00000.png"), "--size", SIZE,
      "--start-frame", "2", "--end-frame", "11", "--every", "3", "--out", out, "--out-video", join(dir, "range.mp4"), "--no-progress",
    ]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(readdirSync(out).sort()).toEqual(["00002.png", "00005.png", "00008.png", "00011.png"]);
    // The same four frames as a folder give the same labels.
    const sub = join(dir, "range-frames");
    mkdirSync(sub);
    for (const i of [2, 5, 8, 11]) symlinkSync(join(dir, "png", `${name(i)}.png`), join(sub, `${name(i)}.png`));
    const folder = join(dir, "range-folder");
    expect(stcn(["segment", "--model", model, "--frames", sub, "--mask", join(judo, "masks", "00000.png"), "--size", SIZE, "--out", folder, "--no-progress"]).status).toBe(0);
    for (const n of readdirSync(out)) {
      const a = await readLabelPng(join(out, n));
      const b = await readLabelPng(join(folder, n));
      expect(Buffer.compare(Buffer.from(a.data), Buffer.from(b.data)), n).toBe(0);
    }
    // Output rate: 24 / 3, so the overlay lasts as long as the range.
    expect(ffprobe(join(dir, "range.mp4"), "stream=r_frame_rate,nb_frames")).toMatchObject({ r_frame_rate: "8/1", nb_frames: "4" });
  });
});

describe("bad input: one line, exit 1, nothing written", () => {
  const mask = join(judo, "masks", "00000.png");
  const cases: Array<[string, () => string, RegExp]> = [
    [
      "truncated Matroska (decodes 7 frames, then ends)",
      () => {
        const p = join(dir, "truncated.mkv");
        writeFileSync(p, readFileSync(video).subarray(0, Math.floor(readFileSync(video).length / 2)));
        return p;
      },
      /^stcn: .*truncated\.mkv: ffmpeg reported "File ended prematurely" after \d+ of \d+ frame\(s\) \(corrupt or truncated video\?\) \[ERR_STCN_VIDEO\]$/,
    ],
    [
      "truncated MP4 with its index first (ffmpeg exits non-zero mid-stream)",
      () => {
        const full = join(dir, "faststart.mp4");
        ffmpeg(["-i", video, "-c:v", "libx264", "-qp", "0", "-movflags", "+faststart", full]);
        const p = join(dir, "truncated.mp4");
        writeFileSync(p, readFileSync(full).subarray(0, Math.floor(readFileSync(full).length * 0.6)));
        return p;
      },
      /^stcn: .*truncated\.mp4: ffmpeg exited with status 1 after \d+ of 16 frame\(s\): .+ \[ERR_STCN_VIDEO\]$/,
    ],
    [
      "no video stream (audio only)",
      () => {
        const p = join(dir, "audio.m4a");
        ffmpeg(["-f", "lavfi", "-i", "sine=d=1", p]);
        return p;
      },
      /^stcn: .*audio\.m4a has no video stream \[ERR_STCN_VIDEO\]$/,
    ],
    [
      "garbage bytes",
      () => {
        const p = join(dir, "garbage.mp4");
        const bytes = new Uint8Array(200_000);
        let s = 12345;
        for (let i = 0; i < bytes.length; i++) bytes[i] = (s = (s * 1103515245 + 12345) >>> 0) >>> 24;
        writeFileSync(p, bytes);
        return p;
      },
      /^stcn: .*garbage\.mp4 is not a readable video: .+ \[ERR_STCN_VIDEO\]$/,
    ],
    [
      "garbage bytes named .bin (ffmpeg's text-art demuxer takes anything)",
      () => {
        const p = join(dir, "upload.bin");
        writeFileSync(p, new Uint8Array(4000).fill(3));
        return p;
      },
      /^stcn: .*upload\.bin is not a video: ffmpeg reads it only as text-mode art \(bintext in bin\).* \[ERR_STCN_VIDEO\]$/,
    ],
  ];
  for (const [what, make, expected] of cases) {
    it(what, () => {
      const path = make();
      const parent = join(dir, `bad-${what.split(" ")[0]}-${Math.random().toString(16).slice(2)}`);
      mkdirSync(parent);
      const r = stcn([
        "segment", "--model", model, "--video", path, "--mask", mask, "--size", SIZE, "--out", join(parent, "out"),
        "--out-video", join(parent, "o.mp4"), "--out-masks-video", join(parent, "m.mkv"), "--no-progress",
      ]);
      expect(r.status).toBe(1);
      const lines = r.stderr.trim().split("\n");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(expected);
      expect(readdirSync(parent)).toEqual([]);  // no folder, no video, no temporary file
    });
  }

  it("a mask of another size than the decoded frames (rotation applied first)", async () => {
    const rotated = join(dir, "rotated.mp4");
    const upright = join(dir, "upright.mp4");
    ffmpeg(["-i", video, "-frames:v", "2", "-c:v", "libx264", "-qp", "0", upright]);
    // Rotation metadata (a display matrix in MP4), set on a stream copy as phones record it.
    ffmpeg(["-i", upright, "-c", "copy", "-metadata:s:v:0", "rotate=90", rotated]);
    const info = await probeVideo(rotated);
    expect([info.width, info.height, info.codedWidth, info.codedHeight, Math.abs(info.rotation)]).toEqual([480, 854, 854, 480, 90]);
    const frames: Array<[number, number, number]> = [];
    for await (const f of decodeVideo(rotated)) frames.push([f.width, f.height, f.data.length]);
    expect(frames).toEqual([[480, 854, 480 * 854 * 3], [480, 854, 480 * 854 * 3]]);
    const parent = join(dir, "bad-size");
    mkdirSync(parent);
    const r = stcn(["segment", "--model", model, "--video", rotated, "--mask", mask, "--size", SIZE, "--out", join(parent, "out"), "--no-progress"]);
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toMatch(/^stcn: mask .*00000\.png is 854x480 but .*rotated\.mp4 decodes to 480x854 \(854x480 stored, rotated -?90 degrees\) .*\[ERR_STCN_INPUT\]$/);
    expect(readdirSync(parent)).toEqual([]);
  });

  it("a missing ffmpeg/ffprobe names the Debian package", () => {
    const r = stcn(["segment", "--model", model, "--video", video, "--mask", mask, "--out", join(dir, "never")], { STCN_FFPROBE: "/nonexistent/ffprobe" });
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toMatch(/^stcn: ffprobe not found: install Debian's ffmpeg package .*\[ERR_STCN_DEPENDENCY\]$/);
    expect(existsSync(join(dir, "never"))).toBe(false);
  });

  it("a range past the end names the option", () => {
    const r = stcn(["segment", "--model", model, "--video", video, "--mask", mask, "--start-frame", "16", "--out", join(dir, "never")]);
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toMatch(/^stcn: --start-frame 16 is past the last frame of .*judo\.mkv \(15\) \[ERR_STCN_ARGUMENT\]; see: stcn segment --help$/);
  });
});

describe("annotate --video and demo --video", () => {
  it("annotate --video --start-frame K annotates frame K of the video", async () => {
    // A stand-in detector whose one mask is "red > 0.5" of the image it is given.
    const script = String.raw`
import json, sys, torch
from typing import Dict
class RedDetector(torch.nn.Module):
    def forward(self, image: torch.Tensor) -> Dict[str, torch.Tensor]:
        h, w = image.shape[0], image.shape[1]  # uint8 [H,W,3], the detector archives' input
        mask = torch.where(image[:, :, 0].float() / 255.0 > 0.5, 0.9, 0.1).view(1, 1, h, w)
        return {"boxes": torch.tensor([[0.0, 0.0, float(w), float(h)]]), "scores": torch.tensor([0.9]), "labels": torch.ones(1, dtype=torch.int64), "masks": mask}
torch.jit.save(torch.jit.script(RedDetector()), sys.argv[1], _extra_files={"metadata.json": json.dumps({"model": "maskrcnn", "kind": "detector"})})
`;
    writeFileSync(join(dir, "red.py"), script);
    const red = join(dir, "red.pt");
    execFileSync(python, [join(dir, "red.py"), red], { timeout: 300_000 });
    const out = join(dir, "annotated-9.png");
    const r = stcn(["annotate", "--method", "maskrcnn", "--model", red, "--video", video, "--start-frame", "9", "--no-gt", "--quiet", "--out", out]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const labels = (await readLabelPng(out)).data;
    const frame9 = await sharp(join(dir, "png", "00009.png")).raw().toBuffer();
    const frame0 = await sharp(join(dir, "png", "00000.png")).raw().toBuffer();
    let same9 = 0;
    let same0 = 0;
    for (let i = 0; i < labels.length; i++) {
      const l = labels[i] === 1 ? 1 : 0;
      if (l === ((frame9[3 * i] as number) / 255 > 0.5 ? 1 : 0)) same9++;
      if (l === ((frame0[3 * i] as number) / 255 > 0.5 ? 1 : 0)) same0++;
    }
    expect(same9).toBe(labels.length);  // exactly frame 9's red channel
    expect(same0).toBeLessThan(labels.length);  // and not frame 0's
  });

  it("demo --video segments the clip and writes masks, overlay.mp4 and a contact sheet", () => {
    const out = join(dir, "demo");
    const r = stcn(["demo", "--video", video, "--mask", join(judo, "masks", "00000.png"), "--size", SIZE, "--out", out]);
    // stderr holds only progress lines ("demo: ..."), no warning or error.
    expect(r.stderr.trim().split("\n").every((l) => l.startsWith("demo: ")), r.stderr).toBe(true);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/demo: J&F n\/a \(no ground truth for your clip\) FPS \d+\.\d/);
    expect(readdirSync(join(out, "masks", "clip"))).toHaveLength(16);
    expect(ffprobe(join(out, "overlay.mp4"), "stream=nb_frames,width,height,r_frame_rate")).toMatchObject({ nb_frames: "16", width: 854, height: 480, r_frame_rate: "24/1" });
    expect(existsSync(join(out, "contact-sheet.png"))).toBe(true);
  });
});

describe("segmentVideo (library)", () => {
  it("an AbortSignal stops decoding, segmentation and encoding, and leaves nothing", async () => {
    const stcnModel = await Stcn.load(model);
    const parent = join(dir, "aborted");
    mkdirSync(parent);
    const controller = new AbortController();
    const seen: number[] = [];
    try {
      const run = segmentVideo(stcnModel, {
        video,
        mask: join(judo, "masks", "00000.png"),
        size: Number(SIZE),
        out: join(parent, "out"),
        outVideo: join(parent, "o.mp4"),
        outMasksVideo: join(parent, "m.mkv"),
        signal: controller.signal,
        onFrame: (frame) => {
          seen.push(frame.videoIndex);
          if (frame.videoIndex === 2) controller.abort(new Error("stop here"));
        },
      });
      // An AbortError as Node's own, carrying the signal's reason as its cause.
      const error = await run.then(
        () => undefined,
        (e: unknown) => e as Error & { code?: string; cause?: unknown },
      );
      expect(error).toMatchObject({ name: "AbortError", code: "ABORT_ERR" });
      expect((error?.cause as Error | undefined)?.message).toBe("stop here");
    } finally {
      stcnModel.dispose();
    }
    expect(seen.slice(0, 3)).toEqual([0, 1, 2]);
    expect(seen.length).toBeLessThan(16);
    expect(readdirSync(parent)).toEqual([]);
  });
});
