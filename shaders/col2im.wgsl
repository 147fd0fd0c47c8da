// col2im, the adjoint of im2col.wgsl: columns [C * KH * KW, batch * SH * SW]
// summed back into the big image [batch, C, H, W], one thread per image
// value, which adds every (kernel offset, grid position) that read it, so
// overlapping windows do not race. A convolution's input gradient and a
// transposed convolution's output are this of a matmul's result.

const THREADS: u32 = 256u;
// The layer's geometry and batch, fixed per compiled kernel (as im2col.wgsl's, whose
// comment says why).
const BATCH: u32 = {{ batch }}u;
const C: u32 = {{ channels }}u;
const H: u32 = {{ h }}u;
const W: u32 = {{ w }}u;
const SH: u32 = {{ sh }}u;
const SW: u32 = {{ sw }}u;
const KH: u32 = {{ kh }}u;
const KW: u32 = {{ kw }}u;
const STRIDE_H: u32 = {{ stride_h }}u;
const STRIDE_W: u32 = {{ stride_w }}u;
const PAD_H: u32 = {{ pad_h }}u;
const PAD_W: u32 = {{ pad_w }}u;
const POSITIONS: u32 = SH * SW;
const PATCH: u32 = C * KH * KW;

// binding 0: the columns, [C * KH * KW, batch * SH * SW].
@group(0) @binding(0) var<storage, read_write> columns: array<f32>;
// binding 1: output, the image, [batch, C, H, W].
@group(0) @binding(1) var<storage, read_write> image: array<f32>;
// binding 2: as im2col.wgsl's.
@group(0) @binding(2) var<storage, read_write> params: array<u32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = (wg.x + wg.y * params[0]) * THREADS + lid;
    if (i >= BATCH * C * H * W) {
        return;
    }
    let x = i % W;
    let y = (i / W) % H;
    let c = (i / (W * H)) % C;
    let b = i / (W * H * C);
    var sum = 0.0;
    for (var dy = 0u; dy < KH; dy++) {
        // The window row whose offset dy lands on image row y, if any.
        let top = i32(y + PAD_H) - i32(dy);
        if (top < 0 || u32(top) % STRIDE_H != 0u || u32(top) / STRIDE_H >= SH) {
            continue;
        }
        let gy = u32(top) / STRIDE_H;
        for (var dx = 0u; dx < KW; dx++) {
            let left = i32(x + PAD_W) - i32(dx);
            if (left < 0 || u32(left) % STRIDE_W != 0u || u32(left) / STRIDE_W >= SW) {
                continue;
            }
            let gx = u32(left) / STRIDE_W;
            let row = (c * KH + dy) * KW + dx;
            sum += columns[(row * BATCH + b) * POSITIONS + gy * SW + gx];
        }
    }
    image[i] = sum;
}
