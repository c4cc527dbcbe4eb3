import type { CommandModule } from "yargs";
import { FIRST_FRAME_METHODS, reproduceDavis, type FirstFrameMethod } from "../reproduce.js";

interface ReproduceArgs {
  davis: string;
  stcn: string;
  maskrcnn?: string;
  pointrend?: string;
  dino?: string;
  methods?: string;
  set: string;
  sequences?: string;
  out: string;
  device: string;
  topK: number;
  memEvery: number;
  size: number;
}

/** `stcn reproduce`: the study's DAVIS table (first frame from GT / Mask R-CNN / PointRend / LOST+CRF). */
export const reproduceCommand: CommandModule = {
  command: "reproduce",
  describe: "the study's DAVIS table: annotate frame 0 (gt, maskrcnn, pointrend, lost-crf), propagate with STCN, evaluate",
  builder: (y) =>
    y
      .option("davis", { type: "string", demandOption: true, describe: "DAVIS 2017 root" })
      .option("stcn", { type: "string", demandOption: true, describe: "STCN TorchScript (stcn export stcn)" })
      .option("maskrcnn", { type: "string", describe: "Mask R-CNN TorchScript (stcn export maskrcnn)" })
      .option("pointrend", { type: "string", describe: "PointRend TorchScript (stcn export pointrend)" })
      .option("dino", { type: "string", describe: "DINO TorchScript for LOST + CRF (stcn export dino)" })
      .option("methods", { type: "string", describe: `comma-separated subset of ${FIRST_FRAME_METHODS.join(",")} (default: gt + every method whose model is given)` })
      .option("set", { type: "string", default: "val", describe: "ImageSets list" })
      .option("sequences", { type: "string", describe: "comma-separated sequences (default: the whole set)" })
      .option("out", { type: "string", demandOption: true, describe: "output root (<out>/<method>/<sequence>/*.png, CSVs, table.md, table.json)" })
      .option("device", { type: "string", default: "cpu", describe: "cpu, cuda or cuda:N" })
      .option("top-k", { type: "number", default: 20 })
      .option("mem-every", { type: "number", default: 5 })
      .option("size", { type: "number", default: 480, describe: "working resolution (shorter side); 0 = input size" }),
  handler: async (raw) => {
    const a = raw as unknown as ReproduceArgs; // yargs validated the options; read camel-cased
    const split = (s?: string) => (s ? s.split(",").map((x) => x.trim()).filter(Boolean) : undefined);
    const methods = split(a.methods) as FirstFrameMethod[] | undefined;
    const sequences = split(a.sequences);
    const result = await reproduceDavis({
      davisRoot: a.davis,
      stcn: a.stcn,
      out: a.out,
      set: a.set,
      device: a.device,
      topK: a.topK,
      memEvery: a.memEvery,
      size: a.size,
      ...(a.maskrcnn ? { maskrcnn: a.maskrcnn } : {}),
      ...(a.pointrend ? { pointrend: a.pointrend } : {}),
      ...(a.dino ? { dino: a.dino } : {}),
      ...(methods ? { methods } : {}),
      ...(sequences ? { sequences } : {}),
      log: (line) => console.error(line),
    });
    console.log(result.table);
  },
};
