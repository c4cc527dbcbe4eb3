import json, sys, warnings
import numpy as np
def db_statistics(per_frame_values):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        M = np.nanmean(per_frame_values)
        O = np.nanmean(per_frame_values > 0.5)
    N_bins = 4
    ids = np.round(np.linspace(1, len(per_frame_values), N_bins + 1) + 1e-10) - 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        ids = ids.astype(np.uint8)
    D_bins = [per_frame_values[ids[i]:ids[i + 1] + 1] for i in range(0, 4)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        D = np.nanmean(D_bins[0]) - np.nanmean(D_bins[3])
    return M, O, D
cases = json.load(sys.stdin)
out = []
for c in cases:
    a = np.array(c, dtype=np.float64)
    M, O, D = db_statistics(a)
    out.append([repr(float(M)), repr(float(O)), repr(float(D)), repr(float(np.mean(a)))])
ids = [[int(x) for x in (np.round(np.linspace(1, n, 5) + 1e-10) - 1).astype(np.uint8)] for n in range(1, 1100)]
print(json.dumps({"stats": out, "ids": ids}))
