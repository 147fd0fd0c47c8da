//! An in-process mutation fuzzer for earshot's parsers, on stable Rust.
//!
//!     cargo run --release --example fuzz -- TARGET [--iterations N] [--seed S]
//!     cargo run --release --example fuzz -- all --iterations 1000000
//!
//! Targets: wav flac mp3 ogg toml manifest bad dcase npy events zip targz
//! http (see
//! tests/common/fuzz_targets.rs). Inputs are seed files mutated by byte flips,
//! interesting integers, inserts, deletions, splices, truncation and format
//! tokens. A panic is caught, counted and its input saved under
//! tests/fuzz_regressions/ (replayed by `cargo test`); the slowest execution
//! and the peak memory are reported, so hangs and unbounded allocations show.

#[path = "../tests/common/fuzz_targets.rs"]
mod targets;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

const INTERESTING: [u32; 10] = [
    0,
    1,
    2,
    0x7F,
    0x80,
    0xFF,
    0x7FFF,
    0xFFFF,
    0x7FFF_FFFF,
    0xFFFF_FFFF,
];
const TOKENS: [&[u8]; 16] = [
    b"\"",
    b",",
    b"\n",
    b"[",
    b"]",
    b"=",
    b"{",
    b"}",
    b"[[model]]\n",
    b"[sweep]\n",
    b"nan",
    b"-1",
    b"1e308",
    b"\xff\xfe",
    b"RIFF",
    b"fmt ",
];

fn mutate(rng: &mut StdRng, seed: &[u8], other: &[u8]) -> Vec<u8> {
    let mut d = seed.to_vec();
    for _ in 0..rng.random_range(1..9) {
        let len = d.len().max(1);
        // Half the edits land in the first 64 bytes: headers decide how the rest is read.
        let at = if rng.random_bool(0.5) {
            rng.random_range(0..len.min(64))
        } else {
            rng.random_range(0..len)
        }
        .min(d.len());
        match rng.random_range(0..8) {
            0 if !d.is_empty() => {
                let i = at.min(d.len() - 1);
                d[i] ^= 1 << rng.random_range(0..8);
            }
            1 if !d.is_empty() => {
                let i = at.min(d.len() - 1);
                d[i] = rng.random();
            }
            2 => {
                let n = rng.random_range(1..17);
                let bytes: Vec<u8> = (0..n).map(|_| rng.random()).collect();
                d.splice(at..at, bytes);
            }
            3 => {
                let end = (at + rng.random_range(1..65)).min(d.len());
                d.drain(at..end);
            }
            4 => {
                let v = INTERESTING[rng.random_range(0..INTERESTING.len())];
                let bytes = if rng.random_bool(0.5) {
                    v.to_le_bytes().to_vec()
                } else {
                    (v as u16).to_le_bytes().to_vec()
                };
                let end = (at + bytes.len()).min(d.len());
                d.splice(at..end, bytes);
            }
            5 => {
                let t = TOKENS[rng.random_range(0..TOKENS.len())];
                d.splice(at..at, t.iter().copied());
            }
            6 => d.truncate(at),
            _ if !other.is_empty() => {
                // Splice a piece of another seed in.
                let from = rng.random_range(0..other.len());
                let end = (from + rng.random_range(1..129)).min(other.len());
                d.splice(at..at, other[from..end].iter().copied());
            }
            _ => {}
        }
    }
    d
}

fn peak_rss_mb() -> f64 {
    // SAFETY: getrusage fills the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    usage.ru_maxrss as f64 / 1024.0
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

fn fuzz(target: &str, iterations: u64, seed: u64, repo: &Path) -> bool {
    let seeds = targets::seeds(target, repo);
    let scratch_dir =
        std::env::temp_dir().join(format!("earshot-fuzz-{}-{target}", std::process::id()));
    let scratch = targets::Scratch::new(scratch_dir.clone());
    let mut rng = StdRng::seed_from_u64(seed);
    let (mut panics, mut slowest) = (0u64, (Duration::ZERO, Vec::new()));
    let started = Instant::now();
    for i in 0..iterations {
        let s = &seeds[rng.random_range(0..seeds.len())];
        let o = &seeds[rng.random_range(0..seeds.len())];
        // Every 16th input is a seed as it is, so the happy path stays covered.
        let input = if i % 16 == 0 {
            s.clone()
        } else {
            mutate(&mut rng, s, o)
        };
        let t = Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(|| targets::run(target, &input, &scratch)));
        let took = t.elapsed();
        if took > slowest.0 {
            slowest = (took, input.clone());
        }
        if outcome.is_err() {
            panics += 1;
            let dir = repo.join("tests/fuzz_regressions");
            let _ = std::fs::create_dir_all(&dir);
            let _ = std::fs::write(
                dir.join(format!("{target}-{:016x}.bin", fnv(&input))),
                &input,
            );
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(&scratch_dir);
    println!(
        "{target:>8}: {iterations} executions in {secs:.1} s ({:.0}/s), {panics} panics, slowest {:.1} ms ({} bytes), peak RSS {:.0} MB",
        iterations as f64 / secs,
        slowest.0.as_secs_f64() * 1e3,
        slowest.1.len(),
        peak_rss_mb()
    );
    panics == 0 && slowest.0 < Duration::from_secs(10)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: fuzz TARGET|all [--iterations N] [--seed S]; targets: wav flac mp3 ogg toml manifest bad dcase npy events zip targz http";
    let Some(target) = args.first() else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    let flag = |name: &str, default: u64| -> u64 {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .map(|v| {
                v.parse()
                    .unwrap_or_else(|_| panic!("{name} takes a number"))
            })
            .unwrap_or(default)
    };
    let iterations = flag("--iterations", 100_000);
    let seed = flag("--seed", 1);
    // Silence the default panic message: panics are counted and saved.
    std::panic::set_hook(Box::new(|_| {}));
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let chosen: Vec<&str> = if target == "all" {
        targets::TARGETS.to_vec()
    } else if targets::TARGETS.contains(&target.as_str()) {
        vec![target.as_str()]
    } else {
        eprintln!("unknown target {target}; {usage}");
        std::process::exit(2);
    };
    let mut clean = true;
    for t in chosen {
        clean &= fuzz(t, iterations, seed, &repo);
    }
    std::process::exit(if clean { 0 } else { 1 });
}
