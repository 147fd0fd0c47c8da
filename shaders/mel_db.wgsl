// Sparse mel filterbank and power_to_db: one invocation per (frame, mel band).
// Each band reads only the few FFT bins its triangle covers.

const BINS: u32 = {{ bins }}u;
const N_MELS: u32 = {{ n_mels }}u;
// 10 / ln(10): 10 log10(x) as a multiply of ln(x), the same formula as the CPU path.
const DB_PER_LN: f32 = 4.342944819032518;
// librosa's amin: power below it is clamped before the log.
const AMIN: f32 = 1e-10;

// binding 0: power spectrum of this launch, BINS values per frame (stft_power.wgsl).
@group(0) @binding(0) var<storage, read_write> power: array<f32>;
// binding 1: per frame of this launch; w is its row in `mel_db`.
@group(0) @binding(1) var<storage, read_write> frames: array<vec4<u32>>;
// binding 2: per band: x = first bin, y = offset of its first weight in `weights`;
// band m's weights end where band m + 1's begin (N_MELS + 1 entries).
@group(0) @binding(2) var<storage, read_write> bands: array<vec2<u32>>;
// binding 3: the non-zero filter weights of every band, back to back.
@group(0) @binding(3) var<storage, read_write> weights: array<f32>;
// binding 4: output, the batch's log-mel energies in dB, N_MELS per row.
@group(0) @binding(4) var<storage, read_write> mel_db: array<f32>;
// binding 5: [0] frames in this launch, [1] invocations per row of the grid.
@group(0) @binding(5) var<storage, read_write> params: array<u32>;

@compute @workgroup_size({{ threads }})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let id = gid.x + gid.y * params[1];
    if (id >= params[0] * N_MELS) {
        return;
    }
    let frame = id / N_MELS;
    let band = id % N_MELS;
    let first = bands[band].x;
    let begin = bands[band].y;
    let end = bands[band + 1u].y;
    var energy = 0.0;
    for (var j = begin; j < end; j++) {
        energy += weights[j] * power[frame * BINS + first + (j - begin)];
    }
    mel_db[frames[frame].w * N_MELS + band] = DB_PER_LN * log(max(energy, AMIN));
}
