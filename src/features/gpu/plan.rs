//! How a batch of clips is cut into launches that respect the device's buffer
//! limit. Pure arithmetic, so it is tested without a GPU.

use super::super::{FeatureConfig, FeatureError};

/// Bytes of one `vec4<u32>` frame record.
const FRAME_RECORD_BYTES: u64 = 16;

/// One dispatch pair (STFT + mel) over a run of frames.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Launch {
    /// Sample spans uploaded back to back: (clip index in the batch, range of its samples).
    pub spans: Vec<(usize, std::ops::Range<usize>)>,
    /// Per frame: first sample's index in the uploaded buffer (i32 bits), the
    /// clip's valid samples `[lo, hi)` there, and the frame's row in the batch.
    pub frames: Vec<[u32; 4]>,
    /// Samples uploaded.
    pub samples: usize,
}

/// Clips whose log-mel rows and padded output fit one buffer each.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BatchPlan {
    /// Index of the batch's first clip among the caller's clips.
    pub first_clip: usize,
    /// Per clip: (first row in the batch's log-mel buffer, rows).
    pub clips: Vec<(usize, usize)>,
    /// Log-mel rows of the batch.
    pub rows: usize,
    /// The longest clip's frames.
    pub max_frames: usize,
    /// Launches, in row order.
    pub launches: Vec<Launch>,
}

/// Cuts `lengths` (samples per clip) into batches and launches whose every
/// buffer stays within `limit` bytes.
pub(crate) fn plan(
    config: &FeatureConfig,
    lengths: &[usize],
    limit: u64,
) -> Result<Vec<BatchPlan>, FeatureError> {
    let cap = (limit / 4) as usize; // f32 values per buffer
    let bins = config.n_fft / 2 + 1;
    let frames: Vec<usize> = lengths
        .iter()
        .enumerate()
        .map(|(clip, &samples)| config.frames_for(samples).map_err(|e| e.in_clip(clip)))
        .collect::<Result<_, _>>()?;

    let mut batches = Vec::new();
    let mut start = 0;
    while start < lengths.len() {
        let (mut rows, mut max_frames, mut end) = (0usize, 0usize, start);
        while end < lengths.len() {
            let (r, m) = (rows + frames[end], max_frames.max(frames[end]));
            let fits = r * config.n_mels <= cap && (end + 1 - start) * m * config.coeffs() <= cap;
            if !fits {
                break;
            }
            (rows, max_frames, end) = (r, m, end + 1);
        }
        if end == start {
            return Err(FeatureError::TooLong {
                clip: start,
                frames: frames[start],
                limit,
            });
        }
        let launches = launches(
            config,
            &lengths[start..end],
            &frames[start..end],
            cap,
            bins,
            limit,
        )?;
        let mut first_row = 0;
        let clips = frames[start..end]
            .iter()
            .map(|&f| {
                first_row += f;
                (first_row - f, f)
            })
            .collect();
        batches.push(BatchPlan {
            first_clip: start,
            clips,
            rows,
            max_frames,
            launches,
        });
        start = end;
    }
    Ok(batches)
}

/// Greedy fill: each launch takes frames in order until its power buffer,
/// sample buffer or frame table would pass the limit.
fn launches(
    config: &FeatureConfig,
    lengths: &[usize],
    frames: &[usize],
    cap: usize,
    bins: usize,
    limit: u64,
) -> Result<Vec<Launch>, FeatureError> {
    let (hop, n_fft) = (config.hop_length, config.n_fft);
    let pad = if config.center { n_fft / 2 } else { 0 } as isize;
    let max_frames = (cap / bins).min((limit / FRAME_RECORD_BYTES) as usize);
    let empty = || Launch {
        spans: Vec::new(),
        frames: Vec::new(),
        samples: 0,
    };
    let mut out = Vec::new();
    let mut current = empty();
    let mut row = 0usize;
    for (clip, (&len, &clip_frames)) in lengths.iter().zip(frames).enumerate() {
        let mut t0 = 0;
        while t0 < clip_frames {
            // Frames that fit: by count, and by samples ((k - 1) hop + n_fft at most).
            let by_count = max_frames - current.frames.len();
            let room = cap - current.samples;
            let by_samples = if room >= len {
                usize::MAX
            } else if room >= n_fft {
                (room - n_fft) / hop + 1
            } else {
                0
            };
            let k = by_count.min(by_samples).min(clip_frames - t0);
            if k == 0 {
                if current.frames.is_empty() {
                    return Err(FeatureError::TooLong {
                        clip,
                        frames: clip_frames,
                        limit,
                    });
                }
                out.push(std::mem::replace(&mut current, empty()));
                continue;
            }
            let first = (t0 * hop) as isize - pad;
            let last_end = ((t0 + k - 1) * hop) as isize - pad + n_fft as isize;
            let lo = first.clamp(0, len as isize) as usize;
            let hi = last_end.clamp(0, len as isize) as usize;
            let base = current.samples;
            for t in t0..t0 + k {
                let frame_start = (t * hop) as isize - pad;
                let at = base as isize + frame_start - lo as isize;
                current.frames.push([
                    at as i32 as u32,
                    base as u32,
                    (base + hi - lo) as u32,
                    row as u32,
                ]);
                row += 1;
            }
            current.spans.push((clip, lo..hi));
            current.samples += hi - lo;
            t0 += k;
        }
    }
    if !current.frames.is_empty() {
        out.push(current);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> FeatureConfig {
        FeatureConfig {
            n_fft: 512,
            hop_length: 128,
            n_mels: 40,
            ..FeatureConfig::default()
        }
    }

    /// Rebuilds each frame's samples from the plan and compares with direct indexing.
    fn check_frames(config: &FeatureConfig, lengths: &[usize], plans: &[BatchPlan]) {
        let clips: Vec<Vec<f32>> = lengths
            .iter()
            .enumerate()
            .map(|(c, &n)| (0..n).map(|i| (c * 100_000 + i + 1) as f32).collect())
            .collect();
        let pad = (config.n_fft / 2) as isize;
        for plan in plans {
            let mut seen = vec![0usize; plan.clips.len()];
            for launch in &plan.launches {
                let buffer: Vec<f32> = launch
                    .spans
                    .iter()
                    .flat_map(|(c, r)| clips[plan.first_clip + c][r.clone()].to_vec())
                    .collect();
                assert_eq!(buffer.len(), launch.samples);
                for rec in &launch.frames {
                    let row = rec[3] as usize;
                    let clip = plan
                        .clips
                        .iter()
                        .position(|&(f, n)| row >= f && row < f + n)
                        .unwrap();
                    let t = row - plan.clips[clip].0;
                    seen[clip] += 1;
                    let signal = &clips[plan.first_clip + clip];
                    for n in 0..config.n_fft as isize {
                        let want = signal
                            .get(((t * config.hop_length) as isize - pad + n) as usize)
                            .copied()
                            .filter(|_| (t * config.hop_length) as isize - pad + n >= 0)
                            .unwrap_or(0.0);
                        let at = rec[0] as i32 as isize + n;
                        let got = if at >= rec[1] as isize && at < rec[2] as isize {
                            buffer[at as usize]
                        } else {
                            0.0
                        };
                        assert_eq!(got, want, "clip {clip} frame {t} sample {n}");
                    }
                }
            }
            for (c, &(_, n)) in plan.clips.iter().enumerate() {
                assert_eq!(seen[c], n, "every frame of clip {c} is planned once");
            }
        }
    }

    #[test]
    fn one_launch_when_everything_fits() {
        let c = config();
        let lengths = [16_000, 300, 5_000];
        let plans = plan(&c, &lengths, 64 << 20).unwrap();
        assert_eq!(plans.len(), 1);
        assert_eq!(plans[0].launches.len(), 1);
        assert_eq!(plans[0].rows, 126 + 3 + 40);
        assert_eq!(plans[0].max_frames, 126);
        check_frames(&c, &lengths, &plans);
    }

    #[test]
    fn small_limits_split_into_launches_and_batches_that_cover_every_frame() {
        let c = config();
        let lengths = [16_000, 300, 5_000, 40_000, 1];
        for limit in [60_000u64, 100_000, 200_000] {
            let plans = plan(&c, &lengths, limit).unwrap();
            assert!(plans.iter().map(|p| p.launches.len()).sum::<usize>() > 1);
            let cap = (limit / 4) as usize;
            for p in &plans {
                assert!(p.rows * c.n_mels <= cap);
                assert!(p.clips.len() * p.max_frames * c.coeffs() <= cap);
                for l in &p.launches {
                    assert!(l.samples <= cap && l.frames.len() * 257 <= cap);
                }
            }
            assert_eq!(
                plans.iter().map(|p| p.clips.len()).sum::<usize>(),
                lengths.len()
            );
            check_frames(&c, &lengths, &plans);
        }
    }

    #[test]
    fn a_clip_too_long_for_any_buffer_and_an_empty_clip_are_errors() {
        let c = config();
        let err = plan(&c, &[1_000, 400_000], 20_000).unwrap_err();
        assert!(
            matches!(err, FeatureError::TooLong { clip: 1, .. }),
            "{err}"
        );
        let err = plan(&c, &[1_000, 0], 64 << 20).unwrap_err().to_string();
        assert!(err.contains("clip 1") && err.contains("too short"), "{err}");
    }
}
