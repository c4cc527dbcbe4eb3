/**
 * The viewer's chart: per-frame J of one object as an SVG line chart, rendered in Node by
 * Vega-Lite + Vega through the package's one renderer (no browser build, no CDN: the page receives
 * finished SVG).
 */
import type { TopLevelSpec } from "vega-lite";
import { renderVegaLiteSvg } from "../study/chart.js";

/** One point of a per-frame series. */
export interface FramePoint {
  /** Frame id (`00005`). */
  frame: string;
  value: number;
}

/** Renders a per-frame series (e.g. J of one object) as an SVG line chart with points. */
export async function renderFrameChartSvg(points: readonly FramePoint[], options: { title?: string; yTitle?: string; width?: number } = {}): Promise<string> {
  const spec: TopLevelSpec = {
    ...(options.title ? { title: options.title } : {}),
    data: { values: points.map((p) => ({ frame: Number(p.frame), id: p.frame, value: p.value })) },
    mark: { type: "line", point: true, tooltip: true },
    width: options.width ?? 520,
    height: 160,
    encoding: {
      x: { field: "frame", type: "quantitative", title: "frame", axis: { tickMinStep: 1, format: "d" } },
      y: { field: "value", type: "quantitative", title: options.yTitle ?? "J", scale: { domain: [0, 1] } },
    },
  };
  return renderVegaLiteSvg(spec);
}
