#!/usr/bin/env python3
"""Generates the scikit-learn numbers that tests/it/reference_detectors.rs holds
earshot's reference detectors to (GaussianMixture, NearestNeighbors, StandardScaler).

Run once from the repository root (needs `pip install scikit-learn==1.9.*`):
    python3 tests/reference/make_detector_fixtures.py
It writes tests/reference/sklearn/detectors.json. Every case starts EM from the
same parameters on both sides (weights_init, means_init, precisions_init), so the
fitted densities must agree; one more case compares converged fits from each
side's own k-means start by their mean log-likelihood.
"""
import json, os
import numpy as np
from sklearn.mixture import GaussianMixture
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import StandardScaler

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "tests", "reference", "sklearn", "detectors.json")
rng = np.random.default_rng(20261201)

def blobs(n, d, centres, spread):
    parts = [c + spread * rng.standard_normal((n, d)) @ rng.standard_normal((d, d)) * 0.5 for c in centres]
    return np.concatenate(parts)

cases = []
for name, covariance, k, d, n in [("full_3x4", "full", 3, 4, 80), ("diag_2x6", "diag", 2, 6, 120),
                                   ("full_1x10", "full", 1, 10, 60), ("full_4x3_tight", "full", 4, 3, 50)]:
    centres = [rng.normal(0, 4, d) for _ in range(k)]
    X = blobs(n, d, centres, 1.0)
    Q = blobs(10, d, centres, 1.5)
    weights = np.full(k, 1.0 / k)
    means = X[rng.choice(len(X), k, replace=False)]
    if covariance == "full":
        covs = np.stack([np.cov(X.T) + 0.1 * np.eye(d) for _ in range(k)])
        precisions = np.linalg.inv(covs)
    else:
        covs = np.stack([X.var(0) + 0.1 for _ in range(k)])
        precisions = 1.0 / covs
    g = GaussianMixture(k, covariance_type=covariance, reg_covar=1e-3, tol=1e-3, max_iter=100,
                        weights_init=weights, means_init=means, precisions_init=precisions).fit(X)
    cases.append(dict(name=name, covariance=covariance, dims=d, x=X.ravel().tolist(), query=Q.ravel().tolist(),
                      weights_init=weights.tolist(), means_init=means.ravel().tolist(),
                      covariances_init=[c.ravel().tolist() for c in covs],
                      n_iter=int(g.n_iter_), converged=bool(g.converged_),
                      weights=g.weights_.tolist(), means=g.means_.ravel().tolist(),
                      score_samples=g.score_samples(Q).tolist()))

# Converged fits from independent starts: well separated clusters, one optimum.
d = 5
centres = [np.full(d, 8.0 * i) for i in range(3)]
X = blobs(200, d, centres, 0.7)
g = GaussianMixture(3, covariance_type="full", reg_covar=1e-3, tol=1e-6, max_iter=500, random_state=0).fit(X)
converged = dict(dims=d, components=3, x=X.ravel().tolist(), mean_log_likelihood=float(g.score(X)))

# Nearest neighbours on standardised vectors: mean distance to the 3 nearest.
A = rng.standard_normal((40, 7)) * rng.uniform(0.5, 5, 7) + rng.normal(0, 3, 7)
B = rng.standard_normal((12, 7)) * 3
sc = StandardScaler().fit(A)
dist, _ = NearestNeighbors(n_neighbors=3).fit(sc.transform(A)).kneighbors(sc.transform(B))
knn = dict(dims=7, k=3, train=A.ravel().tolist(), query=B.ravel().tolist(),
           scaler_mean=sc.mean_.tolist(), scaler_scale=sc.scale_.tolist(), scores=dist.mean(1).tolist())

with open(OUT, "w") as f:
    json.dump(dict(sklearn=__import__("sklearn").__version__, gmm=cases, converged=converged, knn=knn), f)
print("wrote", OUT, [(c["name"], c["n_iter"], c["converged"]) for c in cases])
