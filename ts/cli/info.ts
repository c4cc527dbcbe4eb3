import type { CommandModule } from "yargs";
import { runtimeInfo } from "../runtime.js";
import { packageVersion, printJson, withJson } from "./common.js";

interface InfoArgs {
  json: boolean;
}

/** `stcn info`: version, LibTorch (version, where it was found), threads, CUDA, addon path and build flavour. */
export const infoCommand: CommandModule<object, InfoArgs> = {
  command: "info",
  describe: "print the native runtime: LibTorch version, threads, CUDA, addon path and flavour",
  builder: (y) => withJson(y),
  handler: (args) => {
    const info = runtimeInfo();
    if (args.json) {
      printJson("info", { ...info, libtorchRoute: info.libtorchRoute ?? null, libtorchDir: info.libtorchDir ?? null, cxx11Abi: info.cxx11Abi ?? null });
      return;
    }
    console.log(`stcn-node      ${packageVersion()}`);
    console.log(`LibTorch       ${info.libtorch}${info.libtorchRoute ? ` (${info.libtorchRoute}: ${info.libtorchDir})` : ""}`);
    console.log(`threads        ${info.threads}`);
    console.log(`CUDA           ${info.cudaAvailable ? `available (${info.cudaDevices} device(s))` : "unavailable"}`);
    console.log(`addon          ${info.addonPath} (${info.addonKind})`);
    console.log(
      `build flavour  ${info.flavour} (Node-API ${info.napiVersion}${info.cxx11Abi !== undefined ? `, C++11 ABI ${info.cxx11Abi}` : ""})`,
    );
    console.log(`node           ${info.node}`);
  },
};
