// npm run bench: runs every bench/*.js (each prints ours vs the reference and the ratio).
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";

const dir = fileURLToPath(new URL(".", import.meta.url));
const only = process.argv.slice(2);
for (const file of readdirSync(dir).filter((f) => f.endsWith(".js") && f !== "run.js").sort()) {
  if (only.length && !only.some((o) => file.includes(o))) continue;
  console.log(`\n=== bench/${file}`);
  const r = spawnSync(process.execPath, [`${dir}${file}`], { stdio: "inherit" });
  if (r.status !== 0) console.log(`bench/${file} exited with ${r.status}`);
}
