/**
 * Layering rules of docs/architecture.md, checked on the TypeScript sources (no addon, no Python):
 *  - the library modules (ts/annotators, ts/davis, ts/stcn, ts/queue) and everything they import never import
 *    yargs and never write to the console: command bodies and printing live in ts/cli/;
 *  - the public API (ts/index.ts) exports no command body and not the raw addon;
 *  - importing the package does not load the native addon (it loads on first native use).
 */
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "./helpers.js";

const tsRoot = join(repoRoot, "ts");

/** Source text without comments and string contents (so a comment or a message mentioning console.log does not count). */
function code(source: string): string {
  return source
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .replace(/(^|[^:\\])\/\/.*$/gm, "$1")
    .replace(/`(?:\\[\s\S]|[^`\\])*`/g, "``")
    .replace(/"(?:\\.|[^"\\\n])*"/g, (s) => (/^"(\.{1,2}\/|yargs)/.test(s) ? s : '""'));
}

/** Module specifiers imported or re-exported by a source file. */
function specifiers(source: string): string[] {
  const out: string[] = [];
  for (const m of source.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+"([^"]+)"/g)) out.push(m[1]!);
  for (const m of source.matchAll(/import\(\s*"([^"]+)"\s*\)/g)) out.push(m[1]!);
  return out;
}

/** What a module does that a library module must not: import yargs, write to the console. */
export function violations(source: string): string[] {
  const found: string[] = [];
  const text = code(source);
  for (const s of specifiers(text)) if (s === "yargs" || s.startsWith("yargs/")) found.push(`imports ${s}`);
  const io = text.match(/\bconsole\s*\.\s*\w+|\bprocess\s*\.\s*(?:stdout|stderr)\s*\.\s*write\b/g);
  if (io) found.push(...new Set(io.map((m) => `uses ${m.replace(/\s+/g, "")}`)));
  return found;
}

/** Every ts/ module reachable from `entries` through relative imports. */
function moduleGraph(entries: string[]): Map<string, string> {
  const seen = new Map<string, string>();
  const queue = [...entries];
  while (queue.length) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    const source = readFileSync(file, "utf8");
    seen.set(file, source);
    for (const s of specifiers(code(source))) {
      if (!s.startsWith(".")) continue;
      queue.push(resolve(dirname(file), s).replace(/\.js$/, ".ts"));
    }
  }
  return seen;
}

const libraryFolders = ["annotators", "davis", "stcn", "queue"];
const entries = libraryFolders.flatMap((folder) =>
  readdirSync(join(tsRoot, folder))
    .filter((f) => f.endsWith(".ts"))
    .map((f) => join(tsRoot, folder, f)),
);

describe("library modules are pure", () => {
  it("the checker sees yargs imports and console output, not mentions in comments or strings", () => {
    expect(violations('import type { Options } from "yargs";\nexport const x = 1;')).toEqual(["imports yargs"]);
    expect(violations("export function f(): void {\n  console.warn('x');\n}")).toEqual(["uses console.warn"]);
    expect(violations("process.stdout.write(text);")).toEqual(["uses process.stdout.write"]);
    expect(violations('// console.log(x)\n/** prints with console.log */\nconst s = "console.log";')).toEqual([]);
  });

  it("ts/annotators, ts/davis, ts/stcn, ts/queue and all they import: no yargs, no console", () => {
    expect(entries.length).toBeGreaterThan(10);
    const graph = moduleGraph(entries);
    // The graph reaches the shared layers too (io, errors, the native wrappers).
    expect([...graph.keys()].map((f) => relative(tsRoot, f))).toEqual(expect.arrayContaining(["errors.ts", "io/png.ts", "native.ts", "crf.ts"]));
    const bad: string[] = [];
    for (const [file, source] of graph) {
      const found = violations(source);
      if (found.length) bad.push(`${relative(repoRoot, file)}: ${found.join(", ")}`);
    }
    expect(bad).toEqual([]);
    for (const file of graph.keys()) expect(relative(tsRoot, file).startsWith("cli")).toBe(false);
  });

  it("the public API exports no command body and not the raw addon", () => {
    const index = code(readFileSync(join(tsRoot, "index.ts"), "utf8"));
    expect(specifiers(index).filter((s) => s.startsWith("./cli"))).toEqual([]);
    expect(index).not.toMatch(/\bnative\b/);
  });

  it("importing the package does not load the native addon", async () => {
    const api = await import("../dist/index.js");
    expect(typeof api.loadModule).toBe("function");
    const require = createRequire(import.meta.url);
    // sharp's own addon loads (image decoding); ours (build/Release/stcn.node, prebuilds/stcn-node.*.node) must not.
    const loaded = Object.keys(require.cache).filter((k) => k.endsWith(".node"));
    expect(loaded.filter((k) => /\/stcn[^/]*\.node$/.test(k))).toEqual([]);
  });
});
