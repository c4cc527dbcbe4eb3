/** Object ids of a label map: the one scan every module uses. */

/** Options of {@link labelIds}. */
export interface LabelIdsOptions {
  /**
   * A label that marks "not an object" besides 0 (DAVIS annotations: 255, the void border), or null
   * when every non-zero label is an object (STCN's tracker and the detector annotator: a label map
   * of up to 255 objects).
   */
  void: number | null;
}

/** Sorted non-zero labels present in `labels`, without the `void` label. */
export function labelIds(labels: Uint8Array, options: LabelIdsOptions): number[] {
  const seen = new Uint8Array(256);
  for (let i = 0; i < labels.length; i++) seen[labels[i] as number] = 1;
  const ids: number[] = [];
  for (let id = 1; id < 256; id++) if (seen[id] && id !== options.void) ids.push(id);
  return ids;
}
