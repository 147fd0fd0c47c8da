#!/usr/bin/env python3
"""Generates the librosa reference numbers that tests/it/feature_parity.rs holds earshot to.

Run once from the repository root (needs `pip install librosa==0.11.* soundfile`):
    python3 tests/reference/make_librosa_fixtures.py
It writes
  tests/fixtures/*.wav|flac|ogg|mp3  small generated signals (also used by the decoding tests)
  tests/reference/librosa/<case>_{mfcc,logmel}.npy   librosa's output, as [frames, coeffs]
  tests/reference/librosa/cases.json                 which audio and which settings each case used
Real recordings are read from tests/fixtures/real (committed with their licences; cases.json
names them "shared/...", the folder they were first taken from).
"""
import json, os, sys
import numpy as np
import soundfile as sf
import librosa

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIX = os.path.join(ROOT, "tests", "fixtures")
OUT = os.path.join(ROOT, "tests", "reference", "librosa")
SHARED = os.path.join(ROOT, "tests", "fixtures", "real")
os.makedirs(FIX, exist_ok=True); os.makedirs(OUT, exist_ok=True)
rng = np.random.default_rng(20261123)

def chirp(sr, seconds, f0, f1, noise=0.05):
    t = np.arange(int(sr * seconds)) / sr
    phase = 2 * np.pi * (f0 * t + (f1 - f0) * t * t / (2 * seconds))
    env = 0.5 + 0.4 * np.sin(2 * np.pi * 3 * t)
    return (0.6 * env * np.sin(phase) + noise * rng.standard_normal(t.size)).astype(np.float32)

# Generated signals, written once; the Rust tests decode these very files.
sig = chirp(16000, 1.3, 200, 6000)
sf.write(os.path.join(FIX, "chirp_16k_float.wav"), sig, 16000, subtype="FLOAT")
sf.write(os.path.join(FIX, "chirp_16k.flac"), sig, 16000, subtype="PCM_16")
sf.write(os.path.join(FIX, "chirp_16k.ogg"), sig, 16000, format="OGG", subtype="VORBIS")
sf.write(os.path.join(FIX, "chirp_16k.mp3"), sig, 16000, format="MP3", subtype="MPEG_LAYER_III")
left, right = chirp(22050, 0.9, 300, 3000), chirp(22050, 0.9, 5000, 800)
sf.write(os.path.join(FIX, "stereo_22k_pcm24.wav"), np.stack([left, right], 1), 22050, subtype="PCM_24")
sf.write(os.path.join(FIX, "short_16k_pcm16.wav"), chirp(16000, 300 / 16000, 1000, 2000), 16000, subtype="PCM_16")

def load(path):
    y, sr = sf.read(path, dtype="float32", always_2d=True)
    return y.mean(axis=1).astype(np.float32), sr

def first(folder, pattern=""):
    names = sorted(n for n in os.listdir(folder) if n.endswith(".wav") and pattern in n)
    return os.path.join(folder, names[0])

cases = [
    # name, audio ("fixtures/.." or "shared/.."), settings
    ("chirp_default", "fixtures/chirp_16k_float.wav", dict(n_fft=1024, hop_length=512, n_mels=128, n_mfcc=20)),
    ("chirp_win400", "fixtures/chirp_16k_float.wav",
     dict(n_fft=512, hop_length=160, win_length=400, n_mels=64, n_mfcc=13, fmin=50.0, fmax=7000.0)),
    ("stereo24_22k", "fixtures/stereo_22k_pcm24.wav", dict(n_fft=2048, hop_length=512, n_mels=96, n_mfcc=20)),
    ("short_300", "fixtures/short_16k_pcm16.wav", dict(n_fft=1024, hop_length=512, n_mels=128, n_mfcc=20)),
    ("fsdd_normal_8k", "shared/" + os.path.relpath(first(os.path.join(SHARED, "fsdd/train/normal")), SHARED),
     dict(n_fft=256, hop_length=80, n_mels=40, n_mfcc=13)),
    ("fsdd_anomaly_8k", "shared/" + os.path.relpath(first(os.path.join(SHARED, "fsdd/test/anomaly")), SHARED),
     dict(n_fft=512, hop_length=128, n_mels=64, n_mfcc=20)),
    ("soundscape_22k", "shared/soundscape/S4A03895_20190522_000000.wav",
     dict(n_fft=1024, hop_length=512, n_mels=64, n_mfcc=20)),
    ("birds_44k", "shared/birds/fd79e55d-d3a3-4083-aba1-4f00b545c3d6.wav",
     dict(n_fft=2048, hop_length=1024, n_mels=96, n_mfcc=20)),
    ("birds_32k", "shared/birds/opensoundscape_birds_10s.wav",
     dict(n_fft=1024, hop_length=512, n_mels=64, n_mfcc=20)),
]

manifest = []
for name, audio, kw in cases:
    base = FIX if audio.startswith("fixtures/") else SHARED
    path = os.path.join(base, audio.split("/", 1)[1])
    y, sr = load(path)
    mel_kw = {k: v for k, v in kw.items() if k != "n_mfcc"}
    S = librosa.feature.melspectrogram(y=y, sr=sr, power=2.0, **mel_kw)
    logmel = librosa.power_to_db(S, ref=1.0, amin=1e-10, top_db=80.0)
    mfcc = librosa.feature.mfcc(y=y, sr=sr, **kw)
    np.save(os.path.join(OUT, f"{name}_logmel.npy"), np.ascontiguousarray(logmel.T, dtype=np.float32))
    np.save(os.path.join(OUT, f"{name}_mfcc.npy"), np.ascontiguousarray(mfcc.T, dtype=np.float32))
    manifest.append(dict(name=name, audio=audio, sample_rate=sr, **kw))
    print(f"{name:18s} sr={sr} samples={y.size} frames={mfcc.shape[1]}")

with open(os.path.join(OUT, "cases.json"), "w") as f:
    json.dump(dict(librosa=librosa.__version__, numpy=np.__version__, cases=manifest), f, indent=1)
