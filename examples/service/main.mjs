#!/usr/bin/env node
// @ts-check
/**
 * Starts the example service: `node examples/service/main.mjs [--port 8080] [--host 127.0.0.1]
 * [--model models/demo/stcn-demo.pt] [--device cpu|cuda|cuda:N] [--size 480] [--max-jobs 2] [--max-queued 8] [--max-upload BYTES]
 * [--max-pixels N] [--max-frames N] [--max-duration SECONDS] [--memory-budget 256MiB]`.
 * Prints `stcn service listening on http://HOST:PORT` (`--port 0`: a free port). Stops on
 * SIGINT/SIGTERM (open connections are closed, which aborts their jobs; the model is released).
 */
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { parseByteSize, setMaxImagePixels, Stcn } from "stcn-node";
import { createSegmentService, DEFAULT_LIMITS } from "./server.mjs";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "8080" },
    host: { type: "string", default: "127.0.0.1" },
    model: { type: "string", default: fileURLToPath(new URL("../../models/demo/stcn-demo.pt", import.meta.url)) },
    device: { type: "string", default: "cpu" },
    size: { type: "string", default: "480" },
    "max-jobs": { type: "string", default: "2" },
    "max-queued": { type: "string", default: "8" },
    "max-upload": { type: "string", default: String(DEFAULT_LIMITS.uploadBytes) },
    "max-pixels": { type: "string", default: String(DEFAULT_LIMITS.pixels) },
    "max-frames": { type: "string", default: String(DEFAULT_LIMITS.frames) },
    "max-duration": { type: "string", default: String(DEFAULT_LIMITS.durationSeconds) },
    "memory-budget": { type: "string", default: "256MiB" },
  },
});
/** @param {string} name */
const int = (name) => {
  const text = /** @type {Record<string, string>} */ (values)[name] ?? "";
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) {
    console.error(`stcn-service: --${name} must be an integer >= 0, got ${JSON.stringify(text)} [ERR_STCN_ARGUMENT]`);
    process.exit(1);
  }
  return n;
};
const port = int("port");
let memoryBudget;
try {
  memoryBudget = parseByteSize(values["memory-budget"], "--memory-budget");
} catch (error) {
  console.error(`stcn-service: ${error instanceof Error ? error.message : String(error)} [ERR_STCN_ARGUMENT]`);
  process.exit(1);
}
// Every image header (mask PNG, frames, the video stream) is checked against the service's pixel
// limit before anything is decoded.
setMaxImagePixels(Math.max(1, int("max-pixels")));
const model = await Stcn.load(values.model, { device: values.device });
const server = createSegmentService({
  model,
  size: int("size"),
  maxJobs: int("max-jobs"),
  maxQueued: int("max-queued"),
  memoryBudget,
  limits: { uploadBytes: int("max-upload"), pixels: int("max-pixels"), frames: int("max-frames"), durationSeconds: int("max-duration") },
});
server.listen(port, values.host, () => {
  const address = server.address();
  console.log(`stcn service listening on http://${typeof address === "object" && address ? `${address.address}:${address.port}` : values.host}`);
});
const stop = () => {
  server.closeAllConnections();
  server.close(() => model.dispose());
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
