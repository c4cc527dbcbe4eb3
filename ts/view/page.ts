/**
 * The viewer page: one HTML document with its CSS and script inline (no CDN, no other asset). It
 * reads the index (inline in a static report, `index.json` from the server) and loads a frame's
 * image and mask only when that frame is shown, so a results folder of any size opens at once.
 */

import type { ViewScore, ViewSequence, ViewStudyTable } from "./scan.js";

/** What the page receives: the scan index with every file reference turned into a URL or data URI. */
export interface ClientIndex {
  title: string;
  scoreSource: string | null;
  sequences: Array<Omit<ViewSequence, "frames"> & { frames: Array<{ id: string; mask: string; image: string | null }> }>;
  scores: Array<Omit<ViewScore, "perFrame"> & { hasPerFrame: boolean }>;
  study: ViewStudyTable[];
  /** "server": plots are fetched from `plot.svg?key=&object=`; otherwise the SVG texts by `key#object`. */
  plots: "server" | Record<string, string>;
}

const CSS = `
:root { color-scheme: light; font-family: system-ui, sans-serif; font-size: 14px; }
body { margin: 0; display: grid; grid-template-columns: 240px 1fr; grid-template-rows: auto 1fr; height: 100vh; }
header { grid-column: 1 / 3; padding: 8px 14px; background: #1f2933; color: #f5f7fa; display: flex; gap: 16px; align-items: baseline; }
header h1 { font-size: 16px; margin: 0; }
header small { color: #9aa5b1; }
nav { overflow: auto; border-right: 1px solid #d9e2ec; }
nav ul { list-style: none; margin: 0; padding: 0; }
nav li { padding: 6px 10px; cursor: pointer; border-bottom: 1px solid #f0f4f8; display: flex; justify-content: space-between; gap: 8px; }
nav li.selected { background: #dceefb; font-weight: 600; }
nav li .score { color: #52606d; font-variant-numeric: tabular-nums; }
main { overflow: auto; padding: 12px 16px; }
#stage { background: #323f4b; display: inline-block; line-height: 0; }
#view { max-width: 100%; image-rendering: auto; }
.controls { display: flex; flex-wrap: wrap; gap: 14px; align-items: center; margin: 8px 0; }
#scrubber { width: 360px; }
#objects label { margin-right: 10px; }
.swatch { display: inline-block; width: 10px; height: 10px; margin-right: 4px; border: 1px solid #0003; }
table { border-collapse: collapse; margin: 8px 0 16px; font-variant-numeric: tabular-nums; }
th, td { padding: 3px 10px; border-bottom: 1px solid #e4e7eb; text-align: right; }
th:first-child, td:first-child, th.text, td.text { text-align: left; }
#scores th { cursor: pointer; user-select: none; }
#scores th[aria-sort="ascending"]::after { content: " \\25B2"; }
#scores th[aria-sort="descending"]::after { content: " \\25BC"; }
#scores tr.selected td { background: #fff3c4; }
#scores tbody tr { cursor: pointer; }
h2 { font-size: 15px; margin: 16px 0 4px; }
.muted { color: #7b8794; }
`;

// The page script (plain browser JavaScript, run as is).
const SCRIPT = String.raw`
"use strict";
const $ = (id) => document.getElementById(id);
const fmt = (v) => (Number.isFinite(v) ? v.toFixed(3) : "-");
const state = { index: null, seq: null, frame: 0, hidden: new Set(), opacity: 0.55, token: 0, timer: null, plotObject: null, sort: { key: null, dir: 1 } };

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else if (k.startsWith("data-")) e.setAttribute(k, v); else e[k] = v;
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function loadImage(src) {
  const img = new Image();
  img.src = src;
  return img.decode().then(() => img);
}

function colourMap(palette) {
  const map = new Map();
  for (let id = 0; id < 256; id++) {
    const key = (palette[3 * id] << 16) | (palette[3 * id + 1] << 8) | palette[3 * id + 2];
    if (!map.has(key)) map.set(key, id);
  }
  return map;
}

function seqScore(key) {
  const rows = state.index.scores.filter((s) => s.key === key);
  if (rows.length === 0) return null;
  return rows.reduce((a, s) => a + s.jf, 0) / rows.length;
}

function renderList() {
  const ul = $("sequences");
  ul.replaceChildren();
  for (const s of state.index.sequences) {
    const score = seqScore(s.key);
    const li = el("li", { "data-key": s.key, title: s.key }, el("span", { class: "name" }, s.key), el("span", { class: "score" }, score === null ? "" : fmt(score)));
    li.addEventListener("click", () => selectSequence(s.key));
    ul.append(li);
  }
}

function renderObjects() {
  const box = $("objects");
  box.replaceChildren();
  const seq = state.seq;
  for (const id of seq.objects) {
    const colour = "rgb(" + seq.palette.slice(3 * id, 3 * id + 3).join(",") + ")";
    const input = el("input", { type: "checkbox", checked: !state.hidden.has(id), "data-object": String(id) });
    input.addEventListener("change", () => {
      if (input.checked) state.hidden.delete(id); else state.hidden.add(id);
      draw();
    });
    box.append(el("label", {}, input, el("span", { class: "swatch", style: "" }), "object " + id));
    box.lastChild.querySelector(".swatch").style.background = colour;
  }
}

function selectSequence(key) {
  const seq = state.index.sequences.find((s) => s.key === key);
  if (!seq) return;
  stop();
  state.seq = seq;
  state.frame = 0;
  state.hidden = new Set();
  seq.colours = seq.colours || colourMap(seq.palette);
  for (const li of $("sequences").children) li.classList.toggle("selected", li.dataset.key === key);
  const scrub = $("scrubber");
  scrub.max = String(seq.frames.length - 1);
  scrub.value = "0";
  $("seq-title").textContent = key + " (" + seq.width + "x" + seq.height + ", " + seq.frames.length + " frames)";
  renderObjects();
  const objects = state.index.scores.filter((s) => s.key === key && s.hasPerFrame).map((s) => s.object);
  const select = $("plot-object");
  select.replaceChildren(...objects.map((o) => el("option", { value: String(o) }, "object " + o)));
  $("plot-box").hidden = objects.length === 0;
  if (objects.length) {
    state.plotObject = objects.includes(state.plotObject) ? state.plotObject : objects[0];
    select.value = String(state.plotObject);
    drawPlot();
  }
  markTable();
  draw();
}

async function draw() {
  const seq = state.seq;
  if (!seq) return;
  const frame = seq.frames[state.frame];
  const token = ++state.token;
  const [mask, image] = await Promise.all([loadImage(frame.mask), frame.image ? loadImage(frame.image) : Promise.resolve(null)]);
  if (token !== state.token) return;
  const canvas = $("view");
  const w = seq.width, h = seq.height;
  canvas.width = w;
  canvas.height = h;
  // Small videos are shown enlarged (whole pixels), large ones at their size or the page width.
  const scale = Math.max(1, Math.floor(720 / w));
  canvas.style.width = scale > 1 ? w * scale + "px" : "";
  canvas.style.imageRendering = scale > 1 ? "pixelated" : "auto";
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  if (image) ctx.drawImage(image, 0, 0, w, h); else { ctx.fillStyle = "#3e4c59"; ctx.fillRect(0, 0, w, h); }
  const base = ctx.getImageData(0, 0, w, h);
  const scratch = document.createElement("canvas");
  scratch.width = w;
  scratch.height = h;
  const sctx = scratch.getContext("2d", { willReadFrequently: true });
  sctx.drawImage(mask, 0, 0);
  const m = sctx.getImageData(0, 0, w, h).data;
  const labels = new Uint8Array(w * h);
  const found = new Set();
  for (let i = 0; i < labels.length; i++) {
    const id = seq.colours.get((m[4 * i] << 16) | (m[4 * i + 1] << 8) | m[4 * i + 2]) || 0;
    labels[i] = id;
    if (id) found.add(id);
  }
  let added = false;
  for (const id of found) if (!seq.objects.includes(id)) { seq.objects.push(id); added = true; }
  if (added) { seq.objects.sort((a, b) => a - b); renderObjects(); }
  const a = state.opacity, p = seq.palette, d = base.data;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x, l = labels[i];
      if (l === 0 || state.hidden.has(l)) continue;
      const edge = (x > 0 && labels[i - 1] !== l) || (x < w - 1 && labels[i + 1] !== l) || (y > 0 && labels[i - w] !== l) || (y < h - 1 && labels[i + w] !== l);
      for (let c = 0; c < 3; c++) d[4 * i + c] = edge ? 255 : Math.round(d[4 * i + c] * (1 - a) + p[3 * l + c] * a);
    }
  }
  ctx.putImageData(base, 0, 0);
  canvas.dataset.frame = frame.id;
  canvas.dataset.ready = "1";
  $("frame-label").textContent = "frame " + frame.id + " (" + (state.frame + 1) + "/" + seq.frames.length + ")";
}

function step(delta) {
  const n = state.seq.frames.length;
  state.frame = (state.frame + delta + n) % n;
  $("scrubber").value = String(state.frame);
  draw();
}

function stop() {
  if (state.timer) clearInterval(state.timer);
  state.timer = null;
  $("play").textContent = "play";
}

function play() {
  if (state.timer) return stop();
  $("play").textContent = "pause";
  state.timer = setInterval(() => step(1), 120);
}

const COLUMNS = [
  { key: "group", title: "group", text: true },
  { key: "sequence", title: "sequence", text: true },
  { key: "object", title: "object" },
  { key: "jf", title: "J&F" },
  { key: "j", title: "J" },
  { key: "f", title: "F" },
];

function renderTable() {
  const scores = state.index.scores;
  $("scores-box").hidden = scores.length === 0;
  if (scores.length === 0) return;
  $("score-source").textContent = state.index.scoreSource || "";
  const grouped = scores.some((s) => s.group);
  const cols = COLUMNS.filter((c) => grouped || c.key !== "group");
  const head = el("tr", {}, ...cols.map((c) => {
    const th = el("th", { class: c.text ? "text" : "", "data-sort": c.key }, c.title);
    th.addEventListener("click", () => {
      state.sort = { key: c.key, dir: state.sort.key === c.key ? -state.sort.dir : c.text ? 1 : -1 };
      renderTable();
    });
    if (state.sort.key === c.key) th.setAttribute("aria-sort", state.sort.dir > 0 ? "ascending" : "descending");
    return th;
  }));
  const rows = [...scores];
  if (state.sort.key) {
    const k = state.sort.key, dir = state.sort.dir;
    rows.sort((x, y) => (x[k] < y[k] ? -dir : x[k] > y[k] ? dir : 0));
  }
  const body = el("tbody", {}, ...rows.map((s) => {
    const tr = el("tr", { "data-key": s.key, "data-object": String(s.object) }, ...cols.map((c) => el("td", { class: c.text ? "text" : "" }, c.text || c.key === "object" ? s[c.key] : fmt(s[c.key]))));
    tr.addEventListener("click", () => {
      state.plotObject = s.object;
      selectSequence(s.key);
    });
    return tr;
  }));
  $("scores").replaceChildren(el("thead", {}, head), body);
  markTable();
}

function markTable() {
  for (const tr of document.querySelectorAll("#scores tbody tr")) {
    tr.classList.toggle("selected", !!state.seq && tr.dataset.key === state.seq.key && Number(tr.dataset.object) === state.plotObject);
  }
}

async function drawPlot() {
  const key = state.seq.key, object = state.plotObject;
  const plots = state.index.plots;
  let svg;
  if (plots === "server") {
    const r = await fetch("plot.svg?key=" + encodeURIComponent(key) + "&object=" + object);
    svg = r.ok ? await r.text() : "";
  } else {
    svg = plots[key + "#" + object] || "";
  }
  if (state.seq.key !== key || state.plotObject !== object) return;
  $("plot").innerHTML = svg;
  $("plot").dataset.key = key;
  $("plot").dataset.object = String(object);
  markTable();
}

function renderStudy() {
  const box = $("study");
  box.hidden = state.index.study.length === 0;
  for (const t of state.index.study) {
    const head = el("tr", {}, el("th", {}, "method"), el("th", {}, "status"), el("th", {}, "ours J&F"), el("th", {}, "J"), el("th", {}, "F"), el("th", {}, "study J&F"), el("th", {}, "J"), el("th", {}, "F"), el("th", {}, "\u0394 J&F"));
    const one = (v) => (v === undefined || !Number.isFinite(v) ? "-" : v.toFixed(1));
    const rows = t.rows.map((r) => el("tr", {}, el("td", {}, r.method), el("td", { class: "text" }, r.status),
      el("td", {}, one(r.ours && r.ours.jf)), el("td", {}, one(r.ours && r.ours.j)), el("td", {}, one(r.ours && r.ours.f)),
      el("td", {}, one(r.study && r.study.jf)), el("td", {}, one(r.study && r.study.j)), el("td", {}, one(r.study && r.study.f)),
      el("td", {}, r.ours && r.study ? one(r.ours.jf - r.study.jf) : "-")));
    box.append(el("h2", {}, t.title), el("table", {}, el("thead", {}, head), el("tbody", {}, ...rows)));
  }
}

async function main() {
  const inline = document.getElementById("stcn-index");
  state.index = inline ? JSON.parse(inline.textContent) : await (await fetch("index.json")).json();
  document.title = state.index.title;
  $("title").textContent = state.index.title;
  renderList();
  renderTable();
  renderStudy();
  $("scrubber").addEventListener("input", (e) => { state.frame = Number(e.target.value); draw(); });
  $("prev").addEventListener("click", () => step(-1));
  $("next").addEventListener("click", () => step(1));
  $("play").addEventListener("click", play);
  $("opacity").addEventListener("input", (e) => { state.opacity = Number(e.target.value) / 100; draw(); });
  $("plot-object").addEventListener("change", (e) => { state.plotObject = Number(e.target.value); drawPlot(); });
  if (state.index.sequences.length) selectSequence(state.index.sequences[0].key);
}
main();
`;

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The page. With `inline`, the index is embedded (a self-contained report); otherwise the page fetches `index.json`. */
export function viewerHtml(title: string, inline?: ClientIndex): string {
  // JSON inside <script>: escape "<" so no "</script>" can end the element early.
  const data = inline ? `<script type="application/json" id="stcn-index">${JSON.stringify(inline).replace(/</g, "\\u003c")}</script>\n` : "";
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>${escapeHtml(title)}</title>
<style>${CSS}</style>
</head>
<body>
<header><h1 id="title">${escapeHtml(title)}</h1><small>stcn view</small></header>
<nav><ul id="sequences"></ul></nav>
<main>
  <div id="seq-title" class="muted"></div>
  <div id="stage"><canvas id="view" width="1" height="1"></canvas></div>
  <div class="controls">
    <button id="prev" type="button">&lt;</button>
    <button id="play" type="button">play</button>
    <button id="next" type="button">&gt;</button>
    <input id="scrubber" type="range" min="0" max="0" value="0" aria-label="frame">
    <span id="frame-label"></span>
    <label>opacity <input id="opacity" type="range" min="0" max="100" value="55"></label>
  </div>
  <div id="objects" class="controls"></div>
  <section id="scores-box" hidden>
    <h2>J&amp;F per sequence and object</h2>
    <div id="score-source" class="muted"></div>
    <table id="scores"></table>
    <div id="plot-box" hidden>
      <h2>per-frame J <select id="plot-object"></select></h2>
      <div id="plot"></div>
    </div>
  </section>
  <section id="study" hidden></section>
</main>
${data}<script>${SCRIPT}</script>
</body>
</html>
`;
}
