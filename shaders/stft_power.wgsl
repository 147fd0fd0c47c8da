// Framing, analysis window, real FFT and power spectrum: one workgroup per frame.
//
// An N_FFT-point real frame is packed as HALF = N_FFT / 2 complex points
// z[j] = x[2j] + i x[2j+1], transformed in workgroup memory by an in-place
// radix-2 decimation-in-time FFT (bit-reversed load), then unpacked into the
// N_FFT / 2 + 1 bins of the real spectrum. Packing halves both the work and the
// workgroup memory: N_FFT = 4096 needs 16 KiB, WebGPU's guaranteed minimum.
// Twiddles come from the host (computed in f64) rather than sin/cos here,
// whose precision varies between GPUs.

const HALF: u32 = {{ half }}u;
const LOG2_HALF: u32 = {{ log2_half }}u;
const BINS: u32 = {{ bins }}u;
const THREADS: u32 = {{ threads }}u;

// binding 0: audio of this launch, every clip's needed span back to back.
@group(0) @binding(0) var<storage, read_write> samples: array<f32>;
// binding 1: one entry per frame. x: index in `samples` of the frame's first
// sample, as i32 bits (negative before a clip's start: centre padding);
// y..z: the clip's samples in `samples`, anything outside is zero padding;
// w: the frame's row in the batch's log-mel buffer (read by mel_db.wgsl).
@group(0) @binding(1) var<storage, read_write> frames: array<vec4<u32>>;
// binding 2: the analysis window, N_FFT values (periodic Hann, centred).
@group(0) @binding(2) var<storage, read_write> analysis_window: array<f32>;
// binding 3: twiddles (cos, sin parts of exp(-2 pi i k / n)): first HALF / 2
// for the complex FFT (n = HALF), then BINS for the real unpacking (n = N_FFT).
@group(0) @binding(3) var<storage, read_write> twiddles: array<vec2<f32>>;
// binding 4: output, BINS values |X|^power per frame of this launch.
@group(0) @binding(4) var<storage, read_write> power: array<f32>;
// binding 5: [0] frames in this launch, [1] workgroups per row of the grid.
@group(0) @binding(5) var<storage, read_write> params: array<u32>;

var<workgroup> re: array<f32, HALF>;
var<workgroup> im: array<f32, HALF>;

fn sample_at(pos: i32, lo: u32, hi: u32) -> f32 {
    if (pos >= i32(lo) && pos < i32(hi)) {
        return samples[u32(pos)];
    }
    return 0.0;
}

fn magnitude_to_power(sq: f32) -> f32 {
    {{ power_expr }}
}

@compute @workgroup_size({{ threads }})
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let count = params[0];
    let frame = wg.x + wg.y * params[1];
    // Idle workgroups of the last grid row still reach every barrier.
    let in_range = frame < count;
    let info = frames[min(frame, count - 1u)];
    let start = bitcast<i32>(info.x);

    for (var j = lid; j < HALF; j += THREADS) {
        let at = start + i32(2u * j);
        let x0 = sample_at(at, info.y, info.z) * analysis_window[2u * j];
        let x1 = sample_at(at + 1, info.y, info.z) * analysis_window[2u * j + 1u];
        let r = reverseBits(j) >> (32u - LOG2_HALF);
        re[r] = x0;
        im[r] = x1;
    }
    workgroupBarrier();

    for (var s = 0u; s < LOG2_HALF; s++) {
        let h = 1u << s;
        let step = HALF >> (s + 1u);
        for (var b = lid; b < HALF / 2u; b += THREADS) {
            let k = b & (h - 1u);
            let i0 = ((b >> s) << (s + 1u)) + k;
            let i1 = i0 + h;
            let w = twiddles[k * step];
            let xr = re[i1];
            let xi = im[i1];
            let tr = w.x * xr - w.y * xi;
            let ti = w.x * xi + w.y * xr;
            let ar = re[i0];
            let ai = im[i0];
            re[i0] = ar + tr;
            im[i0] = ai + ti;
            re[i1] = ar - tr;
            im[i1] = ai - ti;
        }
        workgroupBarrier();
    }

    // X[k] = E[k] + exp(-2 pi i k / N_FFT) O[k], with E, O the spectra of the
    // even and odd samples: E = (Z[k] + conj Z[HALF-k]) / 2, O = (Z[k] - conj Z[HALF-k]) / 2i.
    for (var k = lid; k < BINS; k += THREADS) {
        let k1 = k % HALF;
        let k2 = (HALF - k1) % HALF;
        let zr = re[k1];
        let zi = im[k1];
        let cr = re[k2];
        let ci = -im[k2];
        let er = 0.5 * (zr + cr);
        let ei = 0.5 * (zi + ci);
        let odd_r = 0.5 * (zi - ci);
        let odd_i = -0.5 * (zr - cr);
        let w = twiddles[HALF / 2u + k];
        let xr = er + w.x * odd_r - w.y * odd_i;
        let xi = ei + w.x * odd_i + w.y * odd_r;
        if (in_range) {
            power[frame * BINS + k] = magnitude_to_power(xr * xr + xi * xi);
        }
    }
}
