/**
 * The result viewer, served or written: `startViewServer` serves the page, its index, the plots and
 * the files under the results and DAVIS (and frames) roots on 127.0.0.1; `writeViewReport` writes
 * one self-contained HTML file (frames, masks and plots inlined).
 *
 * Files: only regular files whose real path (symbolic links resolved) lies under one of the roots
 * are served; `..` or `.` segments (also percent-encoded), NUL bytes, bad escapes and everything else
 * get 404.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { readFile, realpath, stat } from "node:fs/promises";
import { extname, join, sep } from "node:path";
import { StcnError } from "../errors.js";
import { writeFileAtomic } from "../io/atomic.js";
import { renderFrameChartSvg } from "./chart.js";
import { viewerHtml, type ClientIndex } from "./page.js";
import { scanResults, type ScanOptions, type ViewFile, type ViewIndex, type ViewRoot } from "./scan.js";

const MIME: Record<string, string> = {
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".svg": "image/svg+xml",
  ".json": "application/json",
  ".csv": "text/csv; charset=utf-8",
  ".html": "text/html; charset=utf-8",
};

function clientIndex(index: ViewIndex, file: (f: ViewFile) => string, plots: ClientIndex["plots"]): ClientIndex {
  return {
    title: index.title,
    scoreSource: index.scoreSource ?? null,
    sequences: index.sequences.map((s) => ({
      key: s.key,
      name: s.name,
      group: s.group,
      width: s.width,
      height: s.height,
      palette: s.palette,
      objects: s.objects,
      frames: s.frames.map((f) => ({ id: f.id, mask: file(f.mask), image: f.image ? file(f.image) : null })),
    })),
    scores: index.scores.map((s) => ({
      key: s.key,
      group: s.group,
      sequence: s.sequence,
      object: s.object,
      jf: s.jf,
      j: s.j,
      f: s.f,
      hasPerFrame: (s.perFrame?.j.length ?? 0) > 0,
    })),
    study: index.study,
    plots,
  };
}

async function plotSvg(index: ViewIndex, key: string, object: number): Promise<string | undefined> {
  const score = index.scores.find((s) => s.key === key && s.object === object);
  if (!score?.perFrame || score.perFrame.j.length === 0) return undefined;
  const frames = score.perFrame.frames;
  const points = score.perFrame.j.map((value, i) => ({ frame: frames[i] ?? String(i + 1), value }));
  return renderFrameChartSvg(points, { title: `${key}, object ${object}: J per frame (mean ${score.j.toFixed(3)})` });
}

/**
 * The file a URL path names under a root, or undefined (-> 404). `segments` are the URL's path
 * segments after `/files/<root>/`, still percent-encoded.
 */
export async function resolveServedFile(rootDir: string, segments: readonly string[]): Promise<string | undefined> {
  const parts: string[] = [];
  for (const raw of segments) {
    let part: string;
    try {
      part = decodeURIComponent(raw);
    } catch {
      return undefined;
    }
    if (part === "" || part === "." || part === ".." || part.includes("/") || part.includes("\\") || part.includes("\0")) return undefined;
    parts.push(part);
  }
  if (parts.length === 0) return undefined;
  try {
    const realRoot = await realpath(rootDir);
    const real = await realpath(join(realRoot, ...parts));
    if (!real.startsWith(realRoot + sep)) return undefined;
    return (await stat(real)).isFile() ? real : undefined;
  } catch {
    return undefined;
  }
}

/** Options of {@link startViewServer}. */
export interface ViewServerOptions extends ScanOptions {
  /** Port (default 8080; 0 = any free port). */
  port?: number;
  /** Address to bind (default 127.0.0.1: this machine only). */
  host?: string;
}

/** A running viewer server. */
export interface ViewServer {
  url: string;
  port: number;
  index: ViewIndex;
  /** Stops listening and closes open connections. */
  close(): Promise<void>;
}

/** Scans the results and serves the viewer. ERR_STCN_ARGUMENT for a bad port; scan errors as {@link scanResults}. */
export async function startViewServer(options: ViewServerOptions): Promise<ViewServer> {
  const port = options.port ?? 8080;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new StcnError("ERR_STCN_ARGUMENT", `--port must be an integer from 0 to 65535, got ${port}`);
  const host = options.host ?? "127.0.0.1";
  const index = await scanResults(options);
  const url = (f: ViewFile): string => `files/${f.root}/${f.path.split("/").map(encodeURIComponent).join("/")}`;
  const html = viewerHtml(index.title);
  const json = JSON.stringify(clientIndex(index, url, "server"));
  const plots = new Map<string, Promise<string | undefined>>();

  const send = (res: ServerResponse, status: number, type: string, body: string | Uint8Array): void => {
    res.writeHead(status, { "content-type": type, "cache-control": "no-store", "x-content-type-options": "nosniff" });
    res.end(body);
  };
  const notFound = (res: ServerResponse): void => send(res, 404, "text/plain; charset=utf-8", "not found\n");

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method !== "GET" && req.method !== "HEAD") return notFound(res);
    const raw = req.url ?? "/";
    const q = raw.indexOf("?");
    const path = q < 0 ? raw : raw.slice(0, q);
    const query = new URLSearchParams(q < 0 ? "" : raw.slice(q + 1));
    if (path === "/" || path === "/index.html") return send(res, 200, MIME[".html"] as string, html);
    if (path === "/index.json") return send(res, 200, MIME[".json"] as string, json);
    if (path === "/plot.svg") {
      const key = query.get("key") ?? "";
      const object = Number(query.get("object"));
      const id = `${key}#${object}`;
      if (!plots.has(id)) plots.set(id, plotSvg(index, key, object));
      const svg = await (plots.get(id) as Promise<string | undefined>);
      return svg ? send(res, 200, MIME[".svg"] as string, svg) : notFound(res);
    }
    const segments = path.split("/");
    // "", "files", root, ...file
    if (segments[1] !== "files" || segments.length < 4) return notFound(res);
    const rootDir = index.roots[segments[2] as ViewRoot];
    if (!rootDir || !Object.hasOwn(index.roots, segments[2] as string)) return notFound(res);
    const file = await resolveServedFile(rootDir, segments.slice(3));
    if (!file) return notFound(res);
    const type = MIME[extname(file).toLowerCase()];
    if (!type) return notFound(res);
    send(res, 200, type, await readFile(file));
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) send(res, 500, "text/plain; charset=utf-8", "internal error\n");
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) =>
      reject(new StcnError("ERR_STCN_ARGUMENT", `cannot listen on ${host}:${port}: ${error.code ?? error.message}`)),
    );
    server.listen(port, host, () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  const shown = host.includes(":") ? `[${host}]` : host;
  return {
    url: `http://${shown}:${bound}/`,
    port: bound,
    index,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** What {@link writeViewReport} wrote. */
export interface ViewReportResult {
  path: string;
  bytes: number;
  index: ViewIndex;
}

/**
 * Writes the viewer as one self-contained HTML file: frames and masks as data URIs (decoded by the
 * browser only when shown), the per-frame J plots as inline SVG. Written atomically.
 */
export async function writeViewReport(options: ScanOptions & { out: string }): Promise<ViewReportResult> {
  const index = await scanResults(options);
  const data = new Map<string, string>();
  for (const s of index.sequences) {
    for (const f of s.frames) {
      for (const ref of f.image ? [f.mask, f.image] : [f.mask]) {
        const key = `${ref.root}:${ref.path}`;
        const root = index.roots[ref.root] as string;
        const bytes = await readFile(join(root, ...ref.path.split("/")));
        data.set(key, `data:${MIME[extname(ref.path).toLowerCase()] ?? "application/octet-stream"};base64,${bytes.toString("base64")}`);
      }
    }
  }
  const plots: Record<string, string> = {};
  for (const s of index.scores) {
    const svg = await plotSvg(index, s.key, s.object);
    if (svg) plots[`${s.key}#${s.object}`] = svg;
  }
  const html = viewerHtml(index.title, clientIndex(index, (f) => data.get(`${f.root}:${f.path}`) as string, plots));
  await writeFileAtomic(options.out, html);
  return { path: options.out, bytes: Buffer.byteLength(html), index };
}
