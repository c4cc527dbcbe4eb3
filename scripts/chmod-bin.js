// Makes the CLI entry executable after tsc wrote it (tsc does not keep file modes).
import { chmodSync, existsSync } from "node:fs";
const cli = new URL("../dist/cli.js", import.meta.url);
if (existsSync(cli)) chmodSync(cli, 0o755);
