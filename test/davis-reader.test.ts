/**
 * DAVIS root reading: sets, sequence and frame listing, object ids from the first annotation, mask
 * decoding (palette / grey, void), palette PNG round trip with the DAVIS palette.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { davisObjectIds, decodeDavisMask, frameIdOf, openDavis, readDavisMask } from "../dist/index.js";
import { encodeLabelPng, writeLabelPng } from "../dist/io/png.js";
import { davisPalette } from "../dist/io/palette.js";
import { tempDir, dataPath } from "./helpers.js";

const davis = dataPath("davis-mini", "DAVIS");

describe("DAVIS reader", () => {
  it("lists the set's sequences in ImageSets order with sorted frames", async () => {
    const d = await openDavis(davis);
    expect(d.set).toBe("val");
    expect(d.sequences.map((s) => [s.name, s.frameIds.length, s.imagePaths.length])).toEqual([
      ["bike-packing", 69, 69],
      ["judo", 34, 34],
      ["lab-coat", 47, 47],
      ["car-shadow", 40, 40],
    ]);
    const judo = d.sequences[1];
    expect(judo?.frameIds.slice(0, 3)).toEqual(["00000", "00001", "00002"]);
    expect(judo?.annotationPaths[0]).toBe(join(davis, "Annotations/480p/judo/00000.png"));
    expect(judo?.imageIds).toEqual(judo?.frameIds);
    const subset = await openDavis(davis, { sequences: ["car-shadow", "judo"] });
    expect(subset.sequences.map((s) => s.name)).toEqual(["car-shadow", "judo"]);
    await expect(openDavis(davis, { set: "train" })).rejects.toThrow(/set "train": .*train\.txt not found/);
    await expect(openDavis(davis, { resolution: "Full-Resolution" })).rejects.toThrow(/sequence bike-packing: no images/);
  });

  it("object ids come from the first annotation: 1..max (lab-coat starts with 3, 4, 5)", async () => {
    const d = await openDavis(davis);
    const ids = await Promise.all(d.sequences.map((s) => davisObjectIds(s)));
    expect(ids).toEqual([
      { count: 2, present: [1, 2] },
      { count: 2, present: [1, 2] },
      { count: 5, present: [3, 4, 5] },
      { count: 1, present: [1] },
    ]);
    const mask = await readDavisMask(join(davis, "Annotations/480p/bike-packing/00000.png"));
    expect([mask.width, mask.height]).toEqual([910, 480]);
    expect(mask.palette?.slice(0, 4)).toEqual(davisPalette().slice(0, 4));
  });

  it("palette PNG round trip, void 255 is no object, a root with only the first annotation lists for propagation", async () => {
    const dir = tempDir("stcn-davis-reader-");
    const labels = Uint8Array.from([0, 1, 2, 255, 3, 0]);
    writeFileSync(join(dir, "m.png"), encodeLabelPng(labels, 3, 2));
    const back = await readDavisMask(join(dir, "m.png"));
    expect(Array.from(back.data)).toEqual(Array.from(labels));
    expect(back.palette?.[1]).toEqual([128, 0, 0]);
    expect(back.palette?.[2]).toEqual([0, 128, 0]);
    expect(decodeDavisMask(encodeLabelPng(labels, 3, 2), "x").data).toEqual(labels);

    mkdirSync(join(dir, "ImageSets/2017"), { recursive: true });
    writeFileSync(join(dir, "ImageSets/2017/val.txt"), "s\n\ns\n"); // blank lines skipped, duplicates collapse
    mkdirSync(join(dir, "JPEGImages/480p/s"), { recursive: true });
    for (const f of ["00002.jpg", "00000.jpg", "00001.jpg", ".hidden.jpg", "notes.txt"]) writeFileSync(join(dir, "JPEGImages/480p/s", f), "");
    await writeLabelPng(join(dir, "Annotations/480p/s/00000.png"), Uint8Array.from([0, 255, 4, 0]), 2, 2);
    const d = await openDavis(dir);
    expect(d.sequences.length).toBe(1);
    expect(d.sequences[0]?.imageIds).toEqual(["00000", "00001", "00002"]);
    expect(d.sequences[0]?.frameIds).toEqual(["00000"]);
    expect(await davisObjectIds(d.sequences[0] as NonNullable<(typeof d.sequences)[0]>)).toEqual({ count: 4, present: [4] });
    expect(frameIdOf("00012.png")).toBe("00012");
    expect(frameIdOf("a.b.png")).toBe("a");
  });
});
