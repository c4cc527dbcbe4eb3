/**
 * The result viewer in a real headless Chromium (Debian's `chromium`, driven by playwright-core; no
 * browser download): `stcn view` is started by the test on the davis-mini results (copied to a temp
 * folder, plus symbolic links that point out of it) with the DAVIS root, and the page is checked
 * as a user sees it. Also: the self-contained `--out report.html`, and lazy loading on a generated
 * results folder of 30 sequences x 100 frames. Group `browser` (npm run test:browser).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { cpSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import sharp from "sharp";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeLabelPng } from "../dist/io/png.js";
import { dataRoot, repoRoot, tempDir } from "./helpers.js";

const cli = join(repoRoot, "dist", "cli.js");
const mini = join(dataRoot, "davis-mini");
const executablePath = process.env.STCN_CHROMIUM ?? "/usr/bin/chromium";

interface Served {
  child: ChildProcess;
  url: string;
  stdout: () => string;
  exited: Promise<number | null>;
}

function serve(args: string[]): Promise<Served> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, "view", ...args, "--port", "0"], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    const exited = new Promise<number | null>((r) => child.on("close", (code) => r(code)));
    child.stdout.on("data", (b: Buffer) => {
      out += b.toString();
      const m = /serving (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
      if (m) resolve({ child, url: m[1] as string, stdout: () => out, exited });
    });
    child.stderr.on("data", (b: Buffer) => (err += b.toString()));
    void exited.then((code) => reject(new Error(`stcn view exited (${code}): ${err}`)));
  });
}

/** A raw GET (the path is sent as written: no normalisation of `..`). */
function rawGet(url: string, path: string): Promise<{ status: number; body: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path, method: "GET" }, (res) => {
      let body = "";
      res.on("data", (b: Buffer) => (body += b.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

/** Reddish and greenish pixel counts of the canvas, from a screenshot (DAVIS colours of objects 1 and 2). */
async function colourCounts(page: Page): Promise<{ red: number; green: number }> {
  const png = await page.locator("#view").screenshot();
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  let red = 0;
  let green = 0;
  for (let i = 0; i < info.width * info.height; i++) {
    const [r, g, b] = [data[3 * i] as number, data[3 * i + 1] as number, data[3 * i + 2] as number];
    if (r - g > 40 && r - b > 40) red++;
    if (g - r > 40 && g - b > 40) green++;
  }
  return { red, green };
}

let dir: string;
let browser: Browser;
let server: Served;
const problems: string[] = [];

beforeAll(async () => {
  dir = tempDir("stcn-view-");
  const results = join(dir, "results");
  cpSync(join(mini, "results", "dilate3"), results, { recursive: true });
  // Links out of the results folder: never served.
  symlinkSync("/etc/passwd", join(results, "judo", "evil.png"));
  symlinkSync("/etc", join(results, "escape"));
  server = await serve([results, "--davis", join(mini, "DAVIS")]);
  browser = await chromium.launch({ executablePath, args: ["--no-sandbox"] });
});

afterAll(async () => {
  await browser?.close();
  server?.child.kill("SIGKILL");
});

function watch(page: Page, requests?: string[]): void {
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`page error: ${String(e)}`));
  page.on("requestfailed", (r) => problems.push(`request failed: ${r.url()}`));
  page.on("response", (r) => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`);
  });
  if (requests) page.on("request", (r) => requests.push(r.url()));
}

describe("stcn view (served) in headless Chromium", () => {
  let page: Page;
  const requests: string[] = [];
  beforeAll(async () => {
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 }, deviceScaleFactor: 1 });
    watch(page, requests);
    await page.goto(server.url);
    await page.waitForSelector("#view[data-ready='1']");
    await page.waitForSelector("#plot svg");
  });

  it("loads with no console errors, failed requests or error responses", () => {
    expect(problems).toEqual([]);
  });

  it("loads only the frame on screen (lazy)", () => {
    const files = requests.filter((u) => u.includes("/files/"));
    expect(files.length).toBeLessThanOrEqual(2);  // the first frame's image and mask, of 2 x 190
  });

  it("lists the sequences and shows the evaluator's J&F, J and F per object", async () => {
    expect(await page.locator("#sequences li .name").allTextContents()).toEqual(["bike-packing", "car-shadow", "judo", "lab-coat"]);
    // The official DAVIS toolkit's per-sequence CSV for these results (our evaluator matches it byte for byte).
    const csv = readFileSync(join(mini, "expected", "dilate3", "per-sequence_results-val.csv"), "utf8").trim().split("\n").slice(1);
    const rows = await page.locator("#scores tbody tr").evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent)));
    expect(rows).toHaveLength(csv.length);
    for (const line of csv) {
      const [name, j, f] = line.split(",") as [string, string, string];
      const m = /^(.*)_(\d+)$/.exec(name) as RegExpExecArray;
      const row = rows.find((r) => r[0] === m[1] && r[1] === m[2]);
      expect(row, name).toBeDefined();
      expect([row?.[3], row?.[4]], name).toEqual([j, f]);
      expect(Math.abs(Number(row?.[2]) - (Number(j) + Number(f)) / 2), name).toBeLessThanOrEqual(0.0011);
    }
  });

  it("sorts the table by a column", async () => {
    await page.click("#scores th[data-sort='jf']");
    const first = await page.locator("#scores tbody tr td:nth-child(3)").allTextContents();
    expect(first.map(Number)).toEqual([...first.map(Number)].sort((a, b) => b - a));
    await page.click("#scores th[data-sort='jf']");
    const second = await page.locator("#scores tbody tr td:nth-child(3)").allTextContents();
    expect(second.map(Number)).toEqual([...second.map(Number)].sort((a, b) => a - b));
  });

  it("draws the per-frame J plot (Vega SVG) for the selected sequence and object", async () => {
    await page.click("#scores tbody tr[data-key='judo'][data-object='1']");
    await page.waitForFunction(() => {
      const plot = document.querySelector("#plot");
      return plot?.getAttribute("data-key") === "judo" && plot.getAttribute("data-object") === "1" && plot.querySelector("svg");
    });
    const text = await page.locator("#plot svg").textContent();
    expect(text).toContain("judo, object 1");
  });

  it("stepping the scrubber changes the displayed frame", async () => {
    await page.click("#sequences li[data-key='bike-packing']");
    await page.waitForSelector("#view[data-frame='00000']");
    const before = await page.locator("#view").screenshot();
    await page.focus("#scrubber");
    for (let i = 0; i < 10; i++) await page.keyboard.press("ArrowRight");
    await page.waitForSelector("#view[data-frame='00010']");
    expect(await page.textContent("#frame-label")).toContain("frame 00010");
    const after = await page.locator("#view").screenshot();
    expect(Buffer.compare(before, after)).not.toBe(0);
    await page.click("#next");
    await page.waitForSelector("#view[data-frame='00011']");
  });

  it("an object toggle hides that object's overlay (pixels of the screenshot)", async () => {
    const shown = await colourCounts(page);
    expect(shown.red).toBeGreaterThan(2000);  // object 1, DAVIS (128,0,0)
    expect(shown.green).toBeGreaterThan(2000);  // object 2, DAVIS (0,128,0)
    await page.uncheck("#objects input[data-object='1']");
    await page.waitForTimeout(200);
    const hidden = await colourCounts(page);
    expect(hidden.red).toBe(0);
    expect(hidden.green).toBe(shown.green);
    await page.check("#objects input[data-object='1']");
    await page.waitForTimeout(200);
    expect((await colourCounts(page)).red).toBe(shown.red);
    expect(problems).toEqual([]);
  });

  it("answers 404 to paths out of the roots (.., encoded, symbolic links) and unknown paths", async () => {
    const bad = [
      "/../../etc/passwd",
      "/%2e%2e/%2e%2e/etc/passwd",
      "/files/results/../../../../etc/passwd",
      "/files/results/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
      "/files/results/%2E%2E%2F%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
      "/files/results/..%2f..%2f..%2fetc%2fpasswd",
      "/files/results/%252e%252e/%252e%252e/etc/passwd",
      "/files/results/judo/evil.png",
      "/files/results/escape/passwd",
      "/files/davis/../../../../etc/passwd",
      "/files/nothing/judo/00000.png",
      "/files/results/judo/%00.png",
      "/files/results/%E0%A4%A",
      "/etc/passwd",
    ];
    for (const path of bad) {
      const r = await rawGet(server.url, path);
      expect(r.status, path).toBe(404);
      expect(r.body, path).not.toContain("root:");
    }
    expect((await rawGet(server.url, "/files/results/judo/00000.png")).status).toBe(200);
    expect((await rawGet(server.url, "/files/davis/JPEGImages/480p/judo/00000.jpg")).status).toBe(200);
  });

  it("stops cleanly on SIGINT", async () => {
    server.child.kill("SIGINT");
    expect(await server.exited).toBe(0);
    expect(server.stdout()).toContain("stcn view: stopped");
  });
});

describe("stcn view --out: one self-contained HTML file", () => {
  it("opens from disk with no requests but the file, and shows frames and scores", async () => {
    const out = join(dir, "report.html");
    const r = spawn(process.execPath, [cli, "view", join(dir, "results"), "--davis", join(mini, "DAVIS"), "--out", out], { stdio: "ignore" });
    expect(await new Promise((res) => r.on("close", res))).toBe(0);
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const requests: string[] = [];
    const before = problems.length;
    watch(page, requests);
    await page.goto(`file://${out}`);
    await page.waitForSelector("#view[data-ready='1']");
    await page.waitForSelector("#plot svg");
    expect(problems.slice(before)).toEqual([]);
    expect(requests.filter((u) => !u.startsWith("data:") && u !== `file://${out}`)).toEqual([]);
    expect(await page.locator("#scores tbody tr").count()).toBe(10);
    expect((await colourCounts(page)).green).toBeGreaterThan(2000);
    await page.close();
  });
});

describe("stcn view on stcn reproduce output", () => {
  it("shows the study's tables beside ours, and the method folders as sequences", async () => {
    const out = join(dir, "reproduce");
    const m = join(out, "table-2", "gt");
    mkdirSync(m, { recursive: true });
    cpSync(join(mini, "results", "dilate3", "judo"), join(m, "judo"), { recursive: true });
    const global = { "J&F-Mean": 0.8124, "J-Mean": 0.7901, "F-Mean": 0.8347 };
    const rows = [
      { method: "gt", title: "ground truth", status: "done", global, published: { jf: 85.3, j: 82.0, f: 88.6, fps: 16.9 } },
      { method: "lost-crf", title: "LOST + CRF", status: "skipped", published: { jf: 25.7, j: 23.9, f: 27.6, fps: 19.9 } },
    ];
    writeFileSync(join(out, "report.json"), JSON.stringify({ format: "stcn-study-report/1", tables: [{ table: 2, title: "Table 2: DAVIS 2017 val", rows }] }));
    const report = join(dir, "reproduce.html");
    const r = spawn(process.execPath, [cli, "view", out, "--davis", join(mini, "DAVIS"), "--out", report], { stdio: "ignore" });
    expect(await new Promise((res) => r.on("close", res))).toBe(0);
    const page = await browser.newPage();
    const before = problems.length;
    watch(page);
    await page.goto(`file://${report}`);
    await page.waitForSelector("#view[data-ready='1']");
    expect(problems.slice(before)).toEqual([]);
    expect(await page.locator("#sequences li .name").allTextContents()).toEqual(["table-2/gt/judo"]);
    expect(await page.locator("#study h2").allTextContents()).toEqual(["Table 2: DAVIS 2017 val"]);
    const cells = await page.locator("#study tbody tr").evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent)));
    expect(cells).toEqual([
      ["ground truth", "done", "81.2", "79.0", "83.5", "85.3", "82.0", "88.6", "-4.1"],
      ["LOST + CRF", "skipped", "-", "-", "-", "25.7", "23.9", "27.6", "-"],
    ]);
    await page.close();
  });
});

describe("stcn view on 30 sequences x 100 frames", () => {
  it("starts, lists every sequence and loads one frame", async () => {
    const big = join(dir, "big");
    const labels = new Uint8Array(64 * 48);
    for (let s = 0; s < 30; s++) {
      const seq = join(big, `seq-${String(s).padStart(2, "0")}`);
      mkdirSync(seq, { recursive: true });
      for (let t = 0; t < 100; t++) {
        labels.fill(0);
        for (let y = 10; y < 30; y++) for (let x = t % 40; x < (t % 40) + 20; x++) labels[y * 64 + x] = 1 + (s % 3);
        writeFileSync(join(seq, `${String(t).padStart(5, "0")}.png`), encodeLabelPng(labels, 64, 48));
      }
    }
    const s = await serve([big]);
    try {
      const page = await browser.newPage();
      const requests: string[] = [];
      const before = problems.length;
      watch(page, requests);
      await page.goto(s.url);
      await page.waitForSelector("#view[data-ready='1']");
      expect(problems.slice(before)).toEqual([]);
      expect(await page.locator("#sequences li").count()).toBe(30);
      expect(requests.filter((u) => u.includes("/files/"))).toHaveLength(1);  // one mask of 3000
      expect(await page.locator("#scrubber").getAttribute("max")).toBe("99");
      await page.close();
    } finally {
      s.child.kill("SIGINT");
      expect(await s.exited).toBe(0);
    }
  });
});
