// Preloaded into CLI children by the bad-input tests (node --import): writes the process's peak
// resident set size (KB, process.resourceUsage().maxRSS) to STCN_PEAK_RSS_FILE at exit.
import { writeFileSync } from "node:fs";

const file = process.env.STCN_PEAK_RSS_FILE;
if (file) process.on("exit", () => writeFileSync(file, String(process.resourceUsage().maxRSS)));
