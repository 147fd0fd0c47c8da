#!/usr/bin/env python3
"""The 1-hour recording of BENCHMARKS.md's detection figures: 16 kHz mono 16-bit
WAV, low noise and 50 Hz mains hum throughout, a 2 s rising chirp at 30 min.

usage: make_long_recording.py OUT.wav [--minutes 60]
"""
import argparse, wave
import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("out")
ap.add_argument("--minutes", type=float, default=60)
a = ap.parse_args()
sr = 16000
rng = np.random.default_rng(0)
with wave.open(a.out, "wb") as w:
    w.setnchannels(1); w.setsampwidth(2); w.setframerate(sr)
    for minute in range(int(a.minutes)):
        t = np.arange(60 * sr) / sr + 60 * minute
        x = 0.05 * rng.standard_normal(t.size) + 0.1 * np.sin(2 * np.pi * 50 * t)
        if minute == 30:
            c = t[: 2 * sr] - t[0]
            x[: 2 * sr] += 0.5 * np.sin(2 * np.pi * (500 * c + 1000 * c ** 2))
        w.writeframes((np.clip(x, -1, 1) * 32767).astype("<i2").tobytes())
