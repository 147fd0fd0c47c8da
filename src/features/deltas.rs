//! Delta features as librosa computes them (`feature.delta`, width 9, mode
//! `interp`): a Savitzky-Golay derivative over `width` frames — the slope of
//! a least-squares line (order 1) or twice the curvature of a least-squares
//! parabola (order 2) — with the edge frames taking the value of the first
//! and last full window. A clip shorter than 9 frames uses the longest odd
//! width that fits (at least 3; below that its deltas are zero).

use super::Features;

/// The default and widest delta window, in frames.
pub const DELTA_WIDTH: usize = 9;

/// Per-offset weights of an order-1 or order-2 derivative over `width` frames.
fn weights(width: usize, order: u8) -> Vec<f64> {
    let half = (width / 2) as i64;
    let offsets = -half..=half;
    let sum_k2: f64 = offsets.clone().map(|k| (k * k) as f64).sum();
    match order {
        1 => offsets.map(|k| k as f64 / sum_k2).collect(),
        _ => {
            let mean_k2 = sum_k2 / width as f64;
            let spread: f64 = offsets
                .clone()
                .map(|k| ((k * k) as f64 - mean_k2).powi(2))
                .sum();
            offsets
                .map(|k| 2.0 * ((k * k) as f64 - mean_k2) / spread)
                .collect()
        }
    }
}

/// The width used for a clip of `frames` frames (0: too short for any).
fn width_for(frames: usize) -> usize {
    let w = DELTA_WIDTH.min(frames);
    let odd = if w.is_multiple_of(2) {
        w.saturating_sub(1)
    } else {
        w
    };
    if odd >= 3 { odd } else { 0 }
}

/// Order-`order` deltas of `f`, `[frames, coeffs]`.
pub fn delta(f: &Features, order: u8) -> Vec<f32> {
    let (t, c) = (f.frames, f.coeffs);
    let width = width_for(t);
    let mut out = vec![0.0f32; t * c];
    if width == 0 {
        return out;
    }
    let w = weights(width, order);
    let half = width / 2;
    for centre in half..t - half {
        for j in 0..c {
            let v: f64 = w
                .iter()
                .enumerate()
                .map(|(i, wk)| wk * f.data[(centre + i - half) * c + j] as f64)
                .sum();
            out[centre * c + j] = v as f32;
        }
    }
    // interp: the edges take the derivative of the first and last full window's fit.
    for frame in 0..half {
        out.copy_within(half * c..(half + 1) * c, frame * c);
        let last = t - 1 - half;
        out.copy_within(last * c..(last + 1) * c, (t - 1 - frame) * c);
    }
    out
}

/// `f` with its deltas up to `order` (0, 1 or 2) appended to every frame:
/// `[coeffs, Δ coeffs, Δ² coeffs]`, as `np.r_[m, delta(m), delta(m, order=2)]`.
pub fn with_deltas(f: Features, order: u8) -> Features {
    if order == 0 {
        return f;
    }
    let deltas: Vec<Vec<f32>> = (1..=order).map(|o| delta(&f, o)).collect();
    let (t, c) = (f.frames, f.coeffs);
    let width = c * (1 + order as usize);
    let mut data = Vec::with_capacity(t * width);
    for frame in 0..t {
        data.extend_from_slice(&f.data[frame * c..(frame + 1) * c]);
        for d in &deltas {
            data.extend_from_slice(&d[frame * c..(frame + 1) * c]);
        }
    }
    Features {
        frames: t,
        coeffs: width,
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_has_a_constant_slope_and_no_curvature_a_parabola_a_constant_one() {
        // x_t = 3t (+1 on a second coefficient): slope 3 everywhere, edges included.
        let line = Features {
            frames: 12,
            coeffs: 2,
            data: (0..12).flat_map(|t| [3.0 * t as f32, 1.0]).collect(),
        };
        let d1 = delta(&line, 1);
        assert!(
            d1.chunks(2)
                .all(|p| (p[0] - 3.0).abs() < 1e-5 && p[1].abs() < 1e-6),
            "{d1:?}"
        );
        assert!(delta(&line, 2).iter().all(|v| v.abs() < 1e-5));
        // x_t = t²: second derivative 2.
        let parabola = Features {
            frames: 11,
            coeffs: 1,
            data: (0..11).map(|t| (t * t) as f32).collect(),
        };
        assert!(delta(&parabola, 2).iter().all(|v| (v - 2.0).abs() < 1e-4));
        // Too short for any window: zeros; the layout is [m, Δ, Δ²].
        let two = Features {
            frames: 2,
            coeffs: 1,
            data: vec![1.0, 5.0],
        };
        let stacked = with_deltas(two, 2);
        assert_eq!(stacked.coeffs, 3);
        assert_eq!(stacked.data, vec![1.0, 0.0, 0.0, 5.0, 0.0, 0.0]);
    }
}
