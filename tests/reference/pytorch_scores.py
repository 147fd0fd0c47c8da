"""Reproduce earshot's clip scores in PyTorch from an exported model.

    python3 tests/reference/pytorch_scores.py RUN_DIR [--earshot BIN] [--files N]

Exports RUN_DIR's model (`earshot export model`), computes the features of N
normal and N anomalous test files with the trial's own settings (`earshot
features --like RUN_DIR`), rebuilds the model with docs/pytorch_models.py,
normalises, cuts windows, scores them and pools each clip as earshot does,
and compares with RUN_DIR/scores.csv. Exits 1 when any clip differs by more
than 1e-4 (relative). Needs torch, numpy and safetensors.
"""
import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "docs"))
from pytorch_models import from_safetensors  # noqa: E402


def windows(x, frames, hop):
    """earshot's windows: every `hop` frames; a clip shorter than one window is repeated to fill it."""
    n = x.shape[0]
    if n == 0:
        return np.zeros((0, frames, x.shape[1]), np.float32)
    if n < frames:
        return x[np.arange(frames) % n][None]
    return np.stack([x[s:s + frames] for s in range(0, n - frames + 1, hop)])


def pool(errors, ev):
    how = ev.get("clip_score", "mean")
    e = np.asarray(errors, np.float64)
    if how == "mean":
        return e.mean()
    if how == "max":
        return e.max()
    if how == "topk_mean":
        k = min(max(ev.get("top_k", 3), 1), len(e))
        return np.sort(e)[::-1][:k].mean()
    return np.percentile(e, ev.get("percentile", 90.0))  # linear, as earshot


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir")
    ap.add_argument("--earshot", default="earshot")
    ap.add_argument("--files", type=int, default=3)
    args = ap.parse_args()

    rows = list(csv.DictReader(open(os.path.join(args.run_dir, "scores.csv"))))
    picked = [r for r in rows if r["label"] == "normal"][: args.files]
    picked += [r for r in rows if r["label"] == "anomaly"][: args.files]
    base = os.path.abspath(os.path.join(args.run_dir, "..", "..", ".."))
    paths = [r["file"] if os.path.exists(r["file"]) else os.path.join(base, r["file"]) for r in picked]

    with tempfile.TemporaryDirectory() as tmp:
        model_path = os.path.join(tmp, "model.safetensors")
        subprocess.run([args.earshot, "export", "model", args.run_dir, "--out", model_path], check=True)
        feats = os.path.join(tmp, "features")
        subprocess.run([args.earshot, "features", "--like", args.run_dir, "--no-cache", "--device", "cpu",
                        "--out", feats, *paths], check=True, capture_output=True)
        outputs = {os.path.abspath(f["path"]): f["output"]
                   for f in json.load(open(os.path.join(feats, "features.json")))["files"]}
        model, meta = from_safetensors(model_path)
        method = meta["model"].get("score", "mse")
        if method not in ("mse", "reconstruction", "elbo"):
            print(f"{meta['trial']} scores by {method} (model/scorer.json); this script reproduces "
                  "reconstruction and ELBO scores only")
            return 2
        norm, win, ev = meta["normalizer"], meta["window"], meta["eval"]
        kl_weight = float(meta["score_kl_weight"])
        mean = np.asarray(norm["mean"], np.float32)
        std = np.asarray(norm["std"], np.float32)
        worst = 0.0
        print(f"{meta['trial']} ({meta['kind']}): {sum(p.numel() for p in model.parameters())} parameters")
        for row, path in zip(picked, paths):
            x = (np.load(outputs[os.path.abspath(path)]) - mean) / std
            w = torch.from_numpy(windows(x.astype(np.float32), win["frames"], win["hop"]))
            with torch.no_grad():
                out = model(w)
                recon, kl = out if isinstance(out, tuple) else (out, None)
                err = ((recon - w) ** 2).mean(dim=(1, 2))
                if kl is not None and kl_weight > 0:
                    err = err + kl_weight * kl
            score = pool(err.numpy(), ev)
            ref = float(row["score"])
            rel = abs(score - ref) / max(abs(ref), 1e-12)
            worst = max(worst, rel)
            print(f"  {row['file']:50s} earshot {ref:12.6f}  pytorch {score:12.6f}  rel diff {rel:.1e}")
        # scores.csv keeps 6 decimals; 1e-4 relative is far above that rounding.
        print(f"worst relative difference {worst:.2e} ({'ok' if worst <= 1e-4 else 'TOO LARGE'})")
        return 0 if worst <= 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())
