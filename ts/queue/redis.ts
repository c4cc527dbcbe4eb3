/**
 * Redis connections for the study queue: URL redaction (a password never appears in a message), a
 * client that retries with capped exponential backoff, and names shared by submitter, workers and
 * waiters (queue per device kind, run records).
 */
import { Redis } from "ioredis";
import { StcnError } from "../errors.js";

/** Key prefix of every BullMQ key and run record of stcn-node. */
export const QUEUE_PREFIX = "stcn";

/** Longest wait between two reconnection attempts (ms). */
export const MAX_RECONNECT_DELAY_MS = 5000;

/**
 * The URL with its password (and a user name's password part) replaced by `***`, for messages and
 * logs. A string that is not a URL is shown as `<redis url>` (it might be a password pasted by mistake).
 */
export function redactRedisUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "<redis url>";
  }
  if (parsed.password) parsed.password = "***";
  else if (parsed.username) parsed.username = "***"; // `redis://secret@host`: the user part may be the password
  return parsed.toString().replace(/\/$/, "");
}

/** Removes every occurrence of the URL's password from `text` (for error messages of the client). */
export function redactSecrets(text: string, url: string): string {
  let out = text.split(url).join(redactRedisUrl(url));
  try {
    const parsed = new URL(url);
    for (const secret of [parsed.password, decodeURIComponent(parsed.password)]) if (secret.length > 0) out = out.split(secret).join("***");
  } catch {
    // not a URL: nothing more to remove
  }
  return out;
}

/** The BullMQ queue that serves a device: `cpu` for "cpu", `cuda` for "cuda" and "cuda:N". */
export function queueName(device: string): string {
  const kind = device.split(":")[0] ?? device;
  if (!/^[a-z][a-z0-9]*$/.test(kind)) throw new StcnError("ERR_STCN_ARGUMENT", `device "${device}": expected cpu, cuda or cuda:N`);
  return `units-${kind}`;
}

/** The Redis key of a run record. */
export function runKey(run: string): string {
  return `${QUEUE_PREFIX}:run:${run}`;
}

export function checkRedisUrl(url: string): void {
  if (!/^rediss?:\/\//.test(url)) {
    throw new StcnError("ERR_STCN_ARGUMENT", `--redis must be a redis:// or rediss:// URL, got ${redactRedisUrl(url)}`);
  }
}

/** Connection state changes of a long-lived client (at most one `lost` until it is back). */
export type ConnectionEvent = { type: "connection-lost"; redis: string; message: string } | { type: "reconnected"; redis: string };

/**
 * Opens a Redis client. `persistent` clients (workers, waiters) retry for ever with backoff (250 ms
 * doubling, at most {@link MAX_RECONNECT_DELAY_MS}) and report one `connection-lost` per outage;
 * others (submit, status) fail at once with one line.
 */
export async function openRedis(url: string, options: { persistent: boolean; onConnection?: (e: ConnectionEvent) => void }): Promise<{ client: Redis; lost: (error: unknown) => void }> {
  checkRedisUrl(url);
  const shown = redactRedisUrl(url);
  let down = false;
  const lost = (error: unknown) => {
    if (down) return;
    down = true;
    const message = redactSecrets((error as Error)?.message ?? String(error), url);
    options.onConnection?.({ type: "connection-lost", redis: shown, message });
  };
  const client = new Redis(url, {
    lazyConnect: true,
    // BullMQ workers need blocking commands to wait for the connection instead of failing.
    maxRetriesPerRequest: options.persistent ? null : 1,
    enableOfflineQueue: options.persistent,
    retryStrategy: options.persistent ? (times: number) => Math.min(250 * 2 ** Math.min(times - 1, 10), MAX_RECONNECT_DELAY_MS) : () => null,
  });
  let lastError: unknown;
  client.on("error", (error: unknown) => {
    lastError = error;
    if (options.persistent) lost(error);
  });
  client.on("ready", () => {
    if (!down) return;
    down = false;
    options.onConnection?.({ type: "reconnected", redis: shown });
  });
  try {
    await client.connect();
  } catch (error) {
    if (!options.persistent) {
      client.disconnect();
      // ioredis rejects with "Connection is closed."; the socket's own error (ECONNREFUSED, WRONGPASS) says more.
      const reason = ((lastError ?? error) as Error).message ?? String(lastError ?? error);
      throw new StcnError("ERR_STCN_QUEUE", `cannot reach Redis at ${shown}: ${redactSecrets(reason, url)}`);
    }
    // Persistent clients keep retrying in the background.
  }
  return { client, lost };
}
