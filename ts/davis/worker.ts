/**
 * Worker-thread entry of the DAVIS evaluator (loaded from dist/davis/worker.js by pool.ts): runs
 * tasks one at a time, PNG decoding included, and posts plain results back (buffers transferred).
 */
import { parentPort, workerData } from "node:worker_threads";
import { setMaxImagePixels } from "../io/png.js";
import { runTask, serializeError, type Task } from "./tasks.js";

interface Request {
  id: number;
  task: Task;
}

const port = parentPort;
const limit = (workerData as { maxImagePixels?: number } | null)?.maxImagePixels;
if (limit !== undefined) setMaxImagePixels(limit);
if (!port) throw new Error("davis/worker.js must run as a worker thread");

port.on("message", (request: Request) => {
  try {
    const result = runTask(request.task);
    const transfer = "j" in result ? [result.j.buffer, result.f.buffer] : [];
    port.postMessage({ id: request.id, result }, transfer as ArrayBuffer[]);
  } catch (error) {
    port.postMessage({ id: request.id, error: serializeError(error) });
  }
});
