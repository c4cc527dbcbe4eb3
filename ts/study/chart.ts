/**
 * Bar charts as SVG, rendered in Node by Vega-Lite + Vega (no browser, no canvas: Vega's SVG
 * renderer estimates text widths). One helper for every chart of the package.
 */
import { parse, View } from "vega";
import { compile, type TopLevelSpec } from "vega-lite";

/** One bar. */
export interface BarDatum {
  /** The x-axis category (e.g. the first-frame method). */
  category: string;
  /** Bars of the same category side by side, one per series (e.g. "ours", "study"); colour legend. */
  series: string;
  value: number;
  /** Optional panel (e.g. the table): one small chart per group, side by side. */
  group?: string;
}

/** Options of {@link renderBarChartSvg}. */
export interface BarChartOptions {
  title?: string;
  /** y-axis title. */
  yTitle?: string;
  /** y-axis domain (default: from 0 to the data's maximum). */
  yDomain?: [number, number];
  /** Height of each panel in pixels (default 220); bars are 18 px wide. */
  height?: number;
}

/** Renders grouped bars (categories in data order, series side by side, optional panels) to an SVG string. */
export async function renderBarChartSvg(data: readonly BarDatum[], options: BarChartOptions = {}): Promise<string> {
  const grouped = data.some((d) => d.group !== undefined);
  const spec: TopLevelSpec = {
    ...(options.title ? { title: options.title } : {}),
    data: { values: data.map((d) => ({ ...d, group: d.group ?? "" })) },
    mark: { type: "bar", tooltip: true },
    width: { step: 18 },
    height: options.height ?? 220,
    encoding: {
      x: { field: "category", type: "nominal", sort: null, title: null, axis: { labelAngle: -30 } },
      xOffset: { field: "series", type: "nominal", sort: null },
      y: {
        field: "value",
        type: "quantitative",
        title: options.yTitle ?? "value",
        ...(options.yDomain ? { scale: { domain: options.yDomain } } : {}),
      },
      color: { field: "series", type: "nominal", sort: null, title: null },
      ...(grouped ? { column: { field: "group", type: "nominal", sort: null, title: null } } : {}),
    },
    ...(grouped ? { resolve: { scale: { x: "independent" } } } : {}),
  };
  return renderVegaLiteSvg(spec);
}

/**
 * Renders a Vega-Lite spec to an SVG string in Node (every chart of the package goes through here,
 * so they share one look: sans-serif text on white). The spec is typed `object` in the signature so
 * the published declarations do not pull in Vega's typings (which need the DOM library); callers
 * build a `TopLevelSpec`.
 */
export async function renderVegaLiteSvg(spec: object): Promise<string> {
  const typed = spec as TopLevelSpec;
  const styled = { $schema: "https://vega.github.io/schema/vega-lite/v5.json", ...typed, config: { font: "sans-serif", background: "white", ...typed.config } } as TopLevelSpec;
  const view = new View(parse(compile(styled).spec), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
