#!/usr/bin/env python3
"""Reference numbers for earshot's detector metrics, from scikit-learn and numpy.

Run once from the repository root: python3 tests/reference/make_sklearn_fixtures.py
Writes tests/reference/sklearn/metrics.json, read by tests/it/eval_metrics.rs.
"""
import json, os
import numpy as np
import sklearn
from sklearn.metrics import roc_auc_score, precision_score, recall_score, f1_score, confusion_matrix

rng = np.random.default_rng(5)
cases = []
def add(name, scores, labels, threshold):
    scores = np.asarray(scores, dtype=np.float64); labels = np.asarray(labels, dtype=int)
    pred = (scores > threshold).astype(int)
    tn, fp, fn, tp = confusion_matrix(labels, pred, labels=[0, 1]).ravel()
    cases.append(dict(
        name=name, scores=scores.tolist(), labels=labels.tolist(), threshold=threshold,
        auc=roc_auc_score(labels, scores), pauc=roc_auc_score(labels, scores, max_fpr=0.1),
        precision=precision_score(labels, pred, zero_division=0), recall=recall_score(labels, pred, zero_division=0),
        f1=f1_score(labels, pred, zero_division=0), tp=int(tp), fp=int(fp), tn=int(tn), fn=int(fn),
        p90=float(np.percentile(scores, 90)), p50=float(np.percentile(scores, 50))))

n = rng.normal(0, 1, 200); a = rng.normal(1.2, 1.3, 60)
add("gaussians", np.concatenate([n, a]), [0] * 200 + [1] * 60, 1.0)
add("ties", [0.1, 0.2, 0.2, 0.2, 0.5, 0.5, 0.9, 0.3, 0.3, 0.7], [0, 0, 1, 0, 1, 0, 1, 0, 1, 1], 0.25)
add("perfect", [0.1, 0.2, 0.3, 0.8, 0.9], [0, 0, 0, 1, 1], 0.5)
add("inverted", [0.9, 0.8, 0.7, 0.1, 0.2], [0, 0, 0, 1, 1], 0.5)
q = np.round(rng.uniform(0, 1, 300), 2); l = (rng.uniform(0, 1, 300) < 0.3 + 0.4 * q).astype(int)
add("coarse_ties", q, l, 0.6)
# The DCASE threshold: scipy's gamma MLE with the location fixed at 0, and its 0.9 quantile.
import scipy
from scipy import stats
grng = np.random.default_rng(11)
gamma_cases = []
for name, x in [("gamma_2.5", grng.gamma(2.5, 0.3, 400)), ("gamma_0.7", grng.gamma(0.7, 2.0, 120)),
                ("lognormal", grng.lognormal(0.0, 0.5, 250)), ("few", np.array([0.8, 1.1, 0.9, 1.6, 1.3]))]:
    a, loc, scale = stats.gamma.fit(x, floc=0)
    gamma_cases.append(dict(name=name, values=x.tolist(), shape=a, scale=scale,
                            q90=stats.gamma.ppf(0.9, a, loc=0, scale=scale), q99=stats.gamma.ppf(0.99, a, loc=0, scale=scale)))
os.makedirs("tests/reference/sklearn", exist_ok=True)
with open("tests/reference/sklearn/metrics.json", "w") as f:
    json.dump(dict(sklearn=sklearn.__version__, numpy=np.__version__, scipy=scipy.__version__, cases=cases,
                   gamma=gamma_cases), f, indent=1)
print("wrote", len(cases), "cases with scikit-learn", sklearn.__version__)
