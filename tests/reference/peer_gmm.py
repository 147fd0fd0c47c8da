#!/usr/bin/env python3
"""The peer of `earshot bench gmm`: scikit-learn's GaussianMixture on the same frames.

    python3 tests/reference/peer_gmm.py --write /tmp/frames.npy     # 200,000 x 40 float32
    earshot bench gmm /tmp/frames.npy                                 # ours
    python3 tests/reference/peer_gmm.py /tmp/frames.npy               # scikit-learn's

The frames are a seeded mixture of 8 correlated Gaussians in 40 dimensions
(`--separation 0.3` makes them overlap, so EM needs many iterations),
standardised as the reference detectors standardise theirs. Both sides fit 8
full-covariance components, reg_covar 1e-3, tol 1e-3, max_iter 100, from a
k-means start (scikit-learn: its KMeans with n_init=1; earshot: k-means++ and
Lloyd iterations), and the median of 3 fits is reported.
"""
import argparse, time
import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("input", nargs="?"); ap.add_argument("--write")
ap.add_argument("--frames", type=int, default=200_000); ap.add_argument("--dims", type=int, default=40)
ap.add_argument("--components", type=int, default=8); ap.add_argument("--repeat", type=int, default=3)
ap.add_argument("--separation", type=float, default=3.0, help="std of the cluster means (lower: overlapping clusters, more EM iterations)")
a = ap.parse_args()
if a.write:
    rng = np.random.default_rng(20261201)
    parts = []
    for k in range(8):
        mix = rng.standard_normal((a.dims, a.dims)) / np.sqrt(a.dims)
        parts.append(rng.normal(0, a.separation, a.dims) + rng.standard_normal((a.frames // 8, a.dims)) @ mix)
    x = np.concatenate(parts)
    x = ((x - x.mean(0)) / x.std(0)).astype(np.float32)
    np.save(a.write, x)
    print("wrote", a.write, x.shape)
else:
    from sklearn.mixture import GaussianMixture
    import sklearn, threadpoolctl
    x = np.load(a.input).astype(np.float64)
    times = []
    for r in range(a.repeat):
        t = time.perf_counter()
        g = GaussianMixture(a.components, covariance_type="full", reg_covar=1e-3, tol=1e-3, max_iter=100,
                            random_state=r).fit(x)
        times.append(time.perf_counter() - t)
    s = sorted(times)[len(times) // 2]
    threads = sum(i["num_threads"] for i in threadpoolctl.threadpool_info()[:1])
    print(f"scikit-learn {sklearn.__version__} gmm: {x.shape[0]} x {x.shape[1]} frames, {a.components} components (full): "
          f"{g.n_iter_} EM iterations in {s:.2f} s ({s / g.n_iter_:.3f} s each, k-means start included), "
          f"mean log-likelihood {g.score(x):.4f}, BLAS threads {threads}")
