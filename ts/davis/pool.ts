/**
 * A small worker-thread pool for the evaluator. Tasks run in submission order; `runAll` stops
 * handing out work at the first failure and, once the running tasks are back, throws the failure of
 * the earliest task, so the reported error does not depend on thread timing.
 *
 * Cancellation: aborting the pool's signal terminates its workers (the tasks they run included) and
 * rejects every pending and waiting task with AbortError. Inline (`size` 0), tasks run on the calling
 * thread: the signal is checked before each task, and with a signal the thread yields to its event
 * loop (one `setImmediate`) before each task, so an abort from a timer, a socket or a process signal
 * is seen within one task (a header or one chunk of at most `chunkFrames` frames).
 */
import { setImmediate as nextTurn } from "node:timers/promises";
import { Worker } from "node:worker_threads";
import { abortError } from "../abort.js";
import { StcnError } from "../errors.js";
import { getMaxImagePixels } from "../io/png.js";
import { deserializeError, runTask, type SerializedError, type Task, type TaskResult } from "./tasks.js";

interface Response {
  id: number;
  result?: TaskResult;
  error?: SerializedError;
}

/** Runs tasks on `size` worker threads, or inline on the calling thread when `size` is 0. */
export class TaskPool {
  private readonly workers: Worker[] = [];
  private readonly idle: Worker[] = [];
  private readonly pending = new Map<number, { resolve: (r: TaskResult) => void; reject: (e: Error) => void }>();
  private nextId = 0;
  private closed = false;
  // The error every task rejects with once the signal was aborted.
  private aborted: Error | undefined;
  private readonly detach: (() => void) | undefined;

  /** `signal` cancels the pool's tasks (see the file comment); `what` names the call in the AbortError. */
  constructor(
    readonly size: number,
    private readonly signal?: AbortSignal,
    private readonly what = "evaluateDavis",
  ) {
    if (signal) {
      const onAbort = (): void => this.abort(abortError(signal, what));
      signal.addEventListener("abort", onAbort, { once: true });
      this.detach = () => signal.removeEventListener("abort", onAbort);
      if (signal.aborted) this.aborted = abortError(signal, what);
    }
    if (this.aborted) return;
    for (let i = 0; i < size; i++) {
      // Workers start with this thread's image pixel limit.
      const worker = new Worker(new URL("./worker.js", import.meta.url), { workerData: { maxImagePixels: getMaxImagePixels() } });
      worker.on("message", (message: Response) => this.onMessage(worker, message));
      worker.on("error", (error) => this.failAll(new StcnError("ERR_STCN_INTERNAL", `evaluator worker failed: ${error.message}`)));
      worker.on("exit", (code) => {
        if (!this.closed) this.failAll(new StcnError("ERR_STCN_INTERNAL", `evaluator worker exited with code ${code}`));
      });
      this.workers.push(worker);
      this.idle.push(worker);
    }
  }

  private waiting: Array<() => void> = [];

  private onMessage(worker: Worker, message: Response): void {
    const entry = this.pending.get(message.id);
    this.pending.delete(message.id);
    this.idle.push(worker);
    const next = this.waiting.shift();
    if (next) next();
    if (!entry) return;
    if (message.error) entry.reject(deserializeError(message.error));
    else entry.resolve(message.result as TaskResult);
  }

  private failAll(error: Error): void {
    for (const entry of this.pending.values()) entry.reject(error);
    this.pending.clear();
  }

  /** Runs one task on the next free worker (inline when `size` is 0). After an abort, rejects with AbortError. */
  async run(task: Task): Promise<TaskResult> {
    if (this.size === 0) {
      if (this.signal) {
        await nextTurn();
        if (this.signal.aborted) this.aborted ??= abortError(this.signal, this.what);
      }
      if (this.aborted) throw this.aborted;
      return runTask(task);
    }
    if (this.aborted) throw this.aborted;
    while (this.idle.length === 0) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
      if (this.aborted) throw this.aborted;
    }
    const worker = this.idle.pop() as Worker;
    const id = this.nextId++;
    return new Promise<TaskResult>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ id, task });
    });
  }

  /**
   * Runs `tasks` (at most `size` at a time, in order), calling `onResult` as each finishes. On failure,
   * stops starting new tasks and throws the error of the earliest failed task.
   */
  async runAll<T extends Task>(tasks: readonly T[], onResult: (task: T, result: TaskResult, index: number) => void): Promise<void> {
    const lanes = Math.max(1, this.size);
    let next = 0;
    let failed = false;
    const failures: Array<{ index: number; error: unknown }> = [];
    const lane = async (): Promise<void> => {
      while (!failed && next < tasks.length) {
        const index = next++;
        const task = tasks[index] as T;
        try {
          onResult(task, await this.run(task), index);
        } catch (error) {
          failed = true;
          failures.push({ index, error });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(lanes, tasks.length) }, lane));
    if (failures.length) {
      failures.sort((a, b) => a.index - b.index);
      throw (failures[0] as { error: unknown }).error;
    }
  }

  /**
   * Stops at once: terminates the workers (a task in progress is dropped), rejects the pending and
   * waiting tasks with `error`; later tasks reject with it too. {@link TaskPool.close} still awaits the workers' exit.
   */
  abort(error: Error): void {
    if (this.aborted) return;
    this.aborted = error;
    this.closed = true;
    this.failAll(error);
    for (const wake of this.waiting.splice(0)) wake();
    for (const worker of this.workers) worker.terminate().catch(() => undefined);
  }

  /** Stops the workers (waits until they have exited). */
  async close(): Promise<void> {
    this.closed = true;
    this.detach?.();
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
