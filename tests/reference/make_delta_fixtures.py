#!/usr/bin/env python3
"""librosa.feature.delta on earshot's MFCC fixtures, for tests/it/feature_deltas.rs.

Run once from the repository root (needs `pip install librosa==0.11.*`):
    python3 tests/reference/make_delta_fixtures.py
For four tests/reference/librosa/<case>_mfcc.npy ([frames, coeffs], librosa's own
MFCC) it writes <case>_mfcc_delta.npy: [frames, 2 * coeffs], the first and the
second order deltas (width 9, mode 'interp', as librosa's defaults), and for the
first 6 frames alone <case>_mfcc6_delta.npy with width 5 (earshot narrows the
width to the longest odd one that fits a short clip, as librosa requires).
"""
import os
import numpy as np
import librosa

HERE = os.path.join(os.path.dirname(__file__), "librosa")
CASES = ["chirp_default", "chirp_win400", "fsdd_anomaly_8k", "fsdd_normal_8k"]
for path in [os.path.join(HERE, c + "_mfcc.npy") for c in CASES]:
    m = np.load(path).astype(np.float64).T          # [coeffs, frames]
    full = np.concatenate([librosa.feature.delta(m, width=9, order=o) for o in (1, 2)]).T
    short = m[:, :6]
    part = np.concatenate([librosa.feature.delta(short, width=5, order=o) for o in (1, 2)]).T
    base = path[:-len("_mfcc.npy")]
    np.save(base + "_mfcc_delta.npy", np.ascontiguousarray(full, dtype=np.float32))
    np.save(base + "_mfcc6_delta.npy", np.ascontiguousarray(part, dtype=np.float32))
    print(os.path.basename(base), full.shape, part.shape)
