//! The gamma distribution behind the DCASE baseline's threshold: fitted by
//! maximum likelihood (location fixed at 0, as `scipy.stats.gamma.fit(x, floc=0)`)
//! to training scores, then its quantile. Special functions from their
//! standard series (digamma, trigamma, Lanczos log-gamma, the incomplete
//! gamma's series and continued fraction).

/// A fitted gamma distribution.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gamma {
    /// Shape `a`.
    pub shape: f64,
    /// Scale `theta`.
    pub scale: f64,
}

impl Gamma {
    /// Maximum-likelihood fit with location 0; `None` with fewer than two
    /// positive values or no spread.
    pub fn fit(values: &[f64]) -> Option<Self> {
        let positive: Vec<f64> = values.iter().copied().filter(|v| *v > 0.0).collect();
        if positive.len() < 2 {
            return None;
        }
        let n = positive.len() as f64;
        let mean = positive.iter().sum::<f64>() / n;
        let mean_log = positive.iter().map(|v| v.ln()).sum::<f64>() / n;
        let s = mean.ln() - mean_log;
        if s.is_nan() || s <= 1e-12 {
            return None;
        }
        // Minka's starting point, then Newton on ln(a) - digamma(a) = s.
        let mut a = (3.0 - s + ((s - 3.0).powi(2) + 24.0 * s).sqrt()) / (12.0 * s);
        for _ in 0..50 {
            let f = a.ln() - digamma(a) - s;
            let df = 1.0 / a - trigamma(a);
            let next = (a - f / df).max(a / 10.0);
            if (next - a).abs() <= 1e-14 * a {
                a = next;
                break;
            }
            a = next;
        }
        Some(Self {
            shape: a,
            scale: mean / a,
        })
    }

    /// The `q`-quantile (0 < q < 1).
    pub fn quantile(&self, q: f64) -> f64 {
        let a = self.shape;
        // Bracket, then bisect on the regularised lower incomplete gamma (monotone).
        let (mut lo, mut hi) = (0.0, a.max(1.0));
        while lower_regularized(a, hi) < q {
            hi *= 2.0;
        }
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if lower_regularized(a, mid) < q {
                lo = mid
            } else {
                hi = mid
            }
            if hi - lo <= 1e-15 * hi {
                break;
            }
        }
        0.5 * (lo + hi) * self.scale
    }
}

fn digamma(mut x: f64) -> f64 {
    let mut acc = 0.0;
    while x < 10.0 {
        acc -= 1.0 / x;
        x += 1.0;
    }
    let f = 1.0 / (x * x);
    acc + x.ln()
        - 0.5 / x
        - f * (1.0 / 12.0 - f * (1.0 / 120.0 - f * (1.0 / 252.0 - f * (1.0 / 240.0 - f / 132.0))))
}

fn trigamma(mut x: f64) -> f64 {
    let mut acc = 0.0;
    while x < 10.0 {
        acc += 1.0 / (x * x);
        x += 1.0;
    }
    let f = 1.0 / (x * x);
    acc + 1.0 / x + f / 2.0 + f / x * (1.0 / 6.0 - f * (1.0 / 30.0 - f * (1.0 / 42.0 - f / 30.0)))
}

/// ln Gamma(x) for x > 0 (Lanczos, g = 7, 9 terms).
fn ln_gamma(x: f64) -> f64 {
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let t = x + 7.5;
    let sum = C[1..]
        .iter()
        .enumerate()
        .fold(C[0], |s, (i, c)| s + c / (x + i as f64 + 1.0));
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

/// P(a, x), the regularised lower incomplete gamma function.
fn lower_regularized(a: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    let log_prefix = a * x.ln() - x - ln_gamma(a);
    if x < a + 1.0 {
        // Series: sum x^n / (a (a+1) ... (a+n)).
        let (mut term, mut sum, mut ap) = (1.0 / a, 1.0 / a, a);
        for _ in 0..1000 {
            ap += 1.0;
            term *= x / ap;
            sum += term;
            if term.abs() < sum.abs() * 1e-16 {
                break;
            }
        }
        (sum.ln() + log_prefix).exp()
    } else {
        // Continued fraction for Q(a, x) (modified Lentz).
        let tiny = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / tiny;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..1000 {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < tiny {
                d = tiny;
            }
            c = b + an / c;
            if c.abs() < tiny {
                c = tiny;
            }
            d = 1.0 / d;
            let delta = d * c;
            h *= delta;
            if (delta - 1.0).abs() < 1e-16 {
                break;
            }
        }
        1.0 - (log_prefix.exp() * h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_functions_match_known_values() {
        // Gamma(5) = 24, Gamma(0.5) = sqrt(pi); digamma(1) = -Euler-Mascheroni.
        assert!((ln_gamma(5.0) - 24f64.ln()).abs() < 1e-12);
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-12);
        assert!((digamma(1.0) + 0.577_215_664_901_532_9).abs() < 1e-12);
        assert!((trigamma(1.0) - std::f64::consts::PI.powi(2) / 6.0).abs() < 1e-12);
        // P(1, x) = 1 - exp(-x) (the exponential distribution), both branches.
        for x in [0.3, 1.5, 4.0, 20.0] {
            assert!((lower_regularized(1.0, x) - (1.0 - (-x).exp())).abs() < 1e-13);
        }
    }

    #[test]
    fn the_exponential_case_has_a_closed_form_quantile() {
        let g = Gamma {
            shape: 1.0,
            scale: 2.0,
        };
        assert!((g.quantile(0.9) - 2.0 * 10f64.ln()).abs() < 1e-10);
    }
}
