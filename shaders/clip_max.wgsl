// Each clip's loudest log-mel value, for power_to_db's top_db floor: one
// workgroup per segment of at most THREADS x PER_THREAD values of one clip
// (a strided scan, then a tree reduction in workgroup memory), merged into
// the clip's maximum with an atomic max. The scan's length is bounded
// whatever the clip's: a loop that grew with the clip would stop part-way on
// lavapipe, which ends a shader invocation's loops after 65,535 iterations.

const N_MELS: u32 = {{ n_mels }}u;
const THREADS: u32 = {{ threads }}u;
const LOWEST: f32 = -3.0e38;

// binding 0: the batch's log-mel energies in dB, N_MELS per row (mel_db.wgsl).
@group(0) @binding(0) var<storage, read_write> mel_db: array<f32>;
// binding 1: per segment: x = its clip in the batch, y = its first value in
// `mel_db`, z = its value count (at most THREADS x PER_THREAD), w unused.
@group(0) @binding(1) var<storage, read_write> segments: array<vec4<u32>>;
// binding 2: output, one maximum per clip as order-preserving bits
// (`ordered_bits`, zero before the first segment: below every float).
@group(0) @binding(2) var<storage, read_write> clip_max: array<atomic<u32>>;
// binding 3: [0] segments in the batch, [1] workgroups per row of the grid.
@group(0) @binding(3) var<storage, read_write> params: array<u32>;

var<workgroup> partial: array<f32, THREADS>;

// A float's bits mapped so unsigned order is float order (negatives flipped
// whole, positives above them): finish.wgsl maps them back.
fn ordered_bits(x: f32) -> u32 {
    let bits = bitcast<u32>(x);
    if ((bits & 0x80000000u) != 0u) {
        return ~bits;
    }
    return bits | 0x80000000u;
}

@compute @workgroup_size({{ threads }})
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let count = params[0];
    let segment = wg.x + wg.y * params[1];
    let in_range = segment < count;
    let info = segments[min(segment, count - 1u)];
    var peak = LOWEST;
    for (var i = lid; i < info.z; i += THREADS) {
        peak = max(peak, mel_db[info.y + i]);
    }
    partial[lid] = peak;
    workgroupBarrier();
    for (var width = THREADS / 2u; width > 0u; width /= 2u) {
        if (lid < width) {
            partial[lid] = max(partial[lid], partial[lid + width]);
        }
        workgroupBarrier();
    }
    if (in_range && lid == 0u) {
        atomicMax(&clip_max[info.x], ordered_bits(partial[0]));
    }
}
