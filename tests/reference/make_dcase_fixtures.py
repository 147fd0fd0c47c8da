"""DCASE 2021-2025 official figures on generated scores, computed the way
the challenge evaluators do (dcase2021_task2_evaluator: per section and
domain, AUC and pAUC on that domain's files; dcase2022-2025: per section,
AUC per domain on that domain's normals plus every anomaly of the section,
pAUC on the whole section; official score: scipy's harmonic mean of all of
them, each floored at machine epsilon), for tests/it/dcase_metrics.rs.

    python3 tests/reference/make_dcase_fixtures.py   # writes tests/reference/dcase/fixtures.json

Needs numpy, scipy and scikit-learn.
"""
import json
import os
import sys

import numpy as np
from scipy.stats import hmean
from sklearn.metrics import roc_auc_score

MAX_FPR = 0.1
EPS = sys.float_info.epsilon
rng = np.random.default_rng(20261202)

files = []
for section in ("00", "01", "02"):
    for domain, n_normal, n_anomaly in (("source", 40, 12), ("target", 8, 5)):
        for label, n, shift in (("normal", n_normal, 0.0), ("anomaly", n_anomaly, 0.9)):
            for i in range(n):
                # Target normals drift upwards: the domain shift the task is about.
                drift = 0.4 if domain == "target" and label == "normal" else 0.0
                score = float(rng.normal(shift + drift + 0.2 * int(section), 0.6))
                files.append({
                    "name": f"section_{section}_{domain}_test_{label}_{i:04d}.wav",
                    "section": f"section_{section}", "domain": domain,
                    "anomaly": label == "anomaly", "score": score,
                })


def select(keep):
    chosen = [f for f in files if keep(f)]
    return np.array([f["anomaly"] for f in chosen], dtype=int), np.array([f["score"] for f in chosen])


sections = sorted({f["section"] for f in files})
expected = {}
# 2022-2025.
rows, aucs_s, aucs_t, paucs = [], [], [], []
for s in sections:
    y, p = select(lambda f: f["section"] == s)
    pauc = roc_auc_score(y, p, max_fpr=MAX_FPR)
    out = {"section": s, "pauc": pauc}
    for d, bucket in (("source", aucs_s), ("target", aucs_t)):
        y, p = select(lambda f: f["section"] == s and (f["domain"] == d or f["anomaly"]))
        out[f"auc_{d}"] = roc_auc_score(y, p)
        bucket.append(out[f"auc_{d}"])
    paucs.append(pauc)
    rows.append(out)
expected["2023"] = {
    "sections": rows,
    "official_score": float(hmean(np.maximum(aucs_s + aucs_t + paucs, EPS))),
}
# 2021.
rows, values = [], []
for s in sections:
    out = {"section": s}
    for d in ("source", "target"):
        y, p = select(lambda f: f["section"] == s and f["domain"] == d)
        out[f"auc_{d}"] = roc_auc_score(y, p)
        out[f"pauc_{d}"] = roc_auc_score(y, p, max_fpr=MAX_FPR)
        values += [out[f"auc_{d}"], out[f"pauc_{d}"]]
    rows.append(out)
expected["2021"] = {"sections": rows, "official_score": float(hmean(np.maximum(values, EPS)))}

path = os.path.join(os.path.dirname(__file__), "dcase", "fixtures.json")
with open(path, "w") as f:
    json.dump({"files": files, "expected": expected}, f, indent=1)
print(f"wrote {path}: {len(files)} files; official 2023 {expected['2023']['official_score']:.6f}, "
      f"2021 {expected['2021']['official_score']:.6f}")
