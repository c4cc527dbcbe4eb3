import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { CommandModule } from "yargs";
import { packageRoot } from "../native.js";
import { runtimeInfo } from "../runtime.js";

interface InfoArgs {
  json: boolean;
}

/** `stcn info`: LibTorch version, threads, CUDA, addon path and build flavour. */
export const infoCommand: CommandModule<object, InfoArgs> = {
  command: "info",
  describe: "print the native runtime: LibTorch version, threads, CUDA, addon path and flavour",
  builder: (y) => y.option("json", { type: "boolean", default: false, describe: "print JSON" }),
  handler: (args) => {
    const info = runtimeInfo();
    if (args.json) {
      console.log(JSON.stringify(info, null, 2));
      return;
    }
    const { version } = JSON.parse(readFileSync(join(packageRoot, "package.json"), "utf8")) as { version: string };
    console.log(`stcn-node      ${version}`);
    console.log(`LibTorch       ${info.libtorch}`);
    console.log(`threads        ${info.threads}`);
    console.log(`CUDA           ${info.cudaAvailable ? `available (${info.cudaDevices} device(s))` : "unavailable"}`);
    console.log(`addon          ${info.addonPath}`);
    console.log(`build flavour  ${info.flavour} (Node-API ${info.napiVersion})`);
    console.log(`node           ${info.node}`);
  },
};
