// im2col for 2-D convolutions on the GPU: the big image [batch, C, H, W]
// (NCHW) to columns [C * KH * KW, batch * SH * SW], one thread per column
// value: the image value under kernel offset (kh, kw) of the window at grid
// position (sh, sw), or 0 in the padding. A convolution's output is then one
// matmul by the [out, C * KH * KW] weight for the whole batch (a batched
// matmul of small products per image was most of a layer's time on
// lavapipe); a transposed convolution's weight gradient and input gradient
// use it on the output gradient.

const THREADS: u32 = 256u;
// The layer's geometry and batch, fixed per compiled kernel: every division below is by
// a constant, which the compiler turns into a multiply and a shift (a
// division by a runtime value is a scalar instruction per lane on CPUs
// such as lavapipe's, and was most of this kernel's time).
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
const PAD_H: i32 = {{ pad_h }};
const PAD_W: i32 = {{ pad_w }};
const POSITIONS: u32 = SH * SW;
const PATCH: u32 = C * KH * KW;

// binding 0: the image, [batch, C, H, W].
@group(0) @binding(0) var<storage, read_write> image: array<f32>;
// binding 1: output, the columns, [C * KH * KW, batch * SH * SW].
@group(0) @binding(1) var<storage, read_write> columns: array<f32>;
// binding 2: [0] workgroups per row of the grid.
@group(0) @binding(2) var<storage, read_write> params: array<u32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = (wg.x + wg.y * params[0]) * THREADS + lid;
    if (i >= BATCH * PATCH * POSITIONS) {
        return;
    }
    let position = i % POSITIONS;
    let b = (i / POSITIONS) % BATCH;
    let row = i / (POSITIONS * BATCH);
    let c = row / (KH * KW);
    let dy = (row / KW) % KH;
    let dx = row % KW;
    let y = i32((position / SW) * STRIDE_H + dy) - PAD_H;
    let x = i32((position % SW) * STRIDE_W + dx) - PAD_W;
    var value = 0.0;
    if (y >= 0 && y < i32(H) && x >= 0 && x < i32(W)) {
        value = image[((b * C + c) * H + u32(y)) * W + u32(x)];
    }
    columns[i] = value;
}
