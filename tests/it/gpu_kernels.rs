//! The hand-written WGSL model kernels give what burn's own layers give,
//! forward and backward, on burn's wgpu backend (lavapipe in CI): the same
//! layer through the kernel and through burn's composed operations, the
//! gradients of one loss, within 2e-5 of the largest value.

use burn::nn::gru::GruConfig;
use burn::nn::{BiLstmConfig, GateController};
use burn::prelude::*;
use burn::tensor::{DType, DeviceKind};
use earshot::gpu;
use earshot::models::lstm::FusedLstm;
use earshot::models::ops::gru::gru;
use earshot::models::ops::lstm::{bilstm, lstm_sequence};
use earshot::models::ops::placement as model_kernels;

use crate::common::kernels::{assert_close, assert_grads_close, normal};

fn device() -> Device {
    let device = Device::wgpu(DeviceKind::DefaultDevice).autodiff();
    device.seed(7);
    device
}

/// The kernel against the layer composed step by step from burn operations.
fn check_lstm(batch: usize, time: usize, input: usize, hidden: usize) {
    let device = device();
    let layer = FusedLstm::new(input, hidden, &device);
    assert!(layer.has_kernel(&device, DType::F32, time));
    let x = normal([batch, time, input], &device).require_grad();
    let ours = layer.forward_sequence(x.clone());
    let steps: Vec<Tensor<2>> = (0..time)
        .map(|t| x.clone().narrow(1, t, 1).reshape([batch, input]))
        .collect();
    let theirs = Tensor::stack(layer.forward_steps(&steps), 1);
    let what = format!("lstm {batch}x{time}x{input}, hidden {hidden}");
    assert_close(
        &format!("{what}: hidden states"),
        ours.clone(),
        theirs.clone(),
    );
    let r = normal([batch, time, hidden], &device);
    let g_ours = (ours * r.clone()).sum().backward();
    let g_theirs = (theirs * r).sum().backward();
    assert_grads_close(&format!("{what}: dx"), &x, &g_ours, &g_theirs);
    let (w, b) = layer.gate_parameters();
    assert_grads_close(&format!("{what}: dw"), &w, &g_ours, &g_theirs);
    assert_grads_close(&format!("{what}: db"), &b, &g_ours, &g_theirs);
}

#[test]
fn lstm_kernel_matches_the_composed_layer() {
    // The bench's widths (hidden 64: 256 gate columns, one per thread); the
    // composed reference costs dispatches per step, so few steps.
    check_lstm(9, 8, 20, 64);
    // Fewer gate columns than threads; one step; one sequence.
    check_lstm(1, 1, 3, 5);
    // More gate columns than threads (each thread takes several).
    check_lstm(4, 3, 7, 70);
}

#[test]
fn lstm_kernel_matches_the_cpu_kernel_over_a_long_sequence() {
    // Thousands of frames: composed burn ops would take minutes on lavapipe,
    // so the reference is the CPU kernel (itself held to a float64 reference).
    let (batch, time, input, hidden) = (2, 2_000, 4, 8);
    let gpu = device();
    let cpu = Device::flex().autodiff();
    let values = |shape: Vec<usize>, seed: u64| {
        let n: usize = shape.iter().product();
        let v: Vec<f32> = (0..n)
            .map(|i| (((i as u64 * 2_654_435_761 + seed) % 1_000) as f32 / 500.0 - 1.0) * 0.5)
            .collect();
        TensorData::new(v, shape)
    };
    let run = |device: &Device| {
        let x = Tensor::<3>::from_data(values(vec![batch, time, input], 1), device).require_grad();
        let w = Tensor::<2>::from_data(values(vec![input + hidden, 4 * hidden], 2), device)
            .require_grad();
        let b = Tensor::<1>::from_data(values(vec![4 * hidden], 3), device).require_grad();
        let r = Tensor::<3>::from_data(values(vec![batch, time, hidden], 4), device);
        let y = lstm_sequence(x.clone(), w.clone(), b.clone());
        let g = (y.clone() * r).sum().backward();
        let data = |t: Tensor<3>| t.into_data().convert::<f32>();
        (
            data(y),
            x.grad(&g).unwrap().into_data(),
            w.grad(&g).unwrap().into_data(),
            b.grad(&g).unwrap().into_data(),
        )
    };
    let (ours, theirs) = (run(&gpu), run(&cpu));
    let pairs = [
        ("hidden", ours.0, theirs.0),
        ("dx", ours.1, theirs.1),
        ("dw", ours.2, theirs.2),
        ("db", ours.3, theirs.3),
    ];
    for (what, got, want) in pairs {
        let got = got.try_to_vec::<f32>().unwrap();
        let want = want.try_to_vec::<f32>().unwrap();
        let scale = want.iter().fold(1.0f32, |m, v| m.max(v.abs()));
        let diff = got
            .iter()
            .zip(&want)
            .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
        // Gradients summed over 2,000 steps: f32 rounding in a different order.
        assert!(
            diff <= 1e-4 * scale,
            "{what}: largest difference {diff} (scale {scale})"
        );
    }
}

#[test]
fn bilstm_kernel_matches_burns_bilstm() {
    let device = device();
    let (batch, time, input, hidden) = (3, 5, 6, 16);
    let layer = BiLstmConfig::new(input, hidden, true).init(&device);
    let x = normal([batch, time, input], &device).require_grad();
    let ours = bilstm(&layer, x.clone());
    let theirs = layer.forward(x.clone(), None).0;
    assert_close("bilstm hidden states", ours.clone(), theirs.clone());
    let r = normal([batch, time, 2 * hidden], &device);
    let g_ours = (ours * r.clone()).sum().backward();
    let g_theirs = (theirs * r).sum().backward();
    assert_grads_close("bilstm dx", &x, &g_ours, &g_theirs);
    for lstm in [&layer.forward, &layer.reverse] {
        let forget = lstm.forget_gate.as_ref().unwrap();
        let gates: [&GateController; 4] =
            [&lstm.input_gate, forget, &lstm.output_gate, &lstm.cell_gate];
        for gate in gates {
            for linear in [&gate.input_transform, &gate.hidden_transform] {
                assert_grads_close("bilstm dw", &linear.weight.val(), &g_ours, &g_theirs);
            }
        }
    }
}

#[test]
fn gru_kernel_matches_burns_gru() {
    let device = device();
    // The bench's widths (hidden 64: 192 gate columns) with and without
    // biases; more gate columns than threads; one step of one sequence.
    for (batch, time, input, hidden, bias) in [
        (4, 3, 20, 64, true),
        (2, 2, 5, 90, false),
        (1, 1, 3, 4, true),
    ] {
        let layer = GruConfig::new(input, hidden, bias).init(&device);
        let x = normal([batch, time, input], &device).require_grad();
        let ours = gru(&layer, x.clone());
        let theirs = layer.forward(x.clone(), None);
        let what = format!("gru {batch}x{time}x{input}, hidden {hidden}, bias {bias}");
        assert_close(
            &format!("{what}: hidden states"),
            ours.clone(),
            theirs.clone(),
        );
        let r = normal([batch, time, hidden], &device);
        let g_ours = (ours * r.clone()).sum().backward();
        let g_theirs = (theirs * r).sum().backward();
        assert_grads_close(&format!("{what}: dx"), &x, &g_ours, &g_theirs);
        for gate in [&layer.update_gate, &layer.reset_gate, &layer.new_gate] {
            for linear in [&gate.input_transform, &gate.hidden_transform] {
                let w = linear.weight.val();
                assert_grads_close(&format!("{what}: dw"), &w, &g_ours, &g_theirs);
                if let Some(b) = &linear.bias {
                    assert_grads_close(&format!("{what}: db"), &b.val(), &g_ours, &g_theirs);
                }
            }
        }
    }
}

#[test]
fn kernels_run_on_wgpu_only_and_within_workgroup_memory() {
    let wgpu = Device::wgpu(DeviceKind::DefaultDevice);
    assert!(gpu::supported(&wgpu, DType::F32));
    assert!(gpu::supported(&wgpu.clone().autodiff(), DType::F32));
    assert!(!gpu::supported(&Device::flex(), DType::F32));
    let hidden = model_kernels::MAX_RECURRENT_HIDDEN;
    assert!(model_kernels::recurrent_gpu_kernels_run(
        &wgpu,
        DType::F32,
        4,
        [4, hidden, 2]
    ));
    // Past the kernels' workgroup memory, or past the loop iterations
    // lavapipe allows a shader (where CI runs), the layer is composed by burn.
    assert!(!model_kernels::recurrent_gpu_kernels_run(
        &wgpu,
        DType::F32,
        4,
        [4, hidden + 1, 2]
    ));
    assert_eq!(gpu::loop_budget(&wgpu), Some(gpu::SOFTWARE_LOOP_BUDGET));
    assert!(!model_kernels::recurrent_gpu_kernels_run(
        &wgpu,
        DType::F32,
        4,
        [4, 64, 2_000]
    ));
    let layer = FusedLstm::new(2, model_kernels::MAX_RECURRENT_HIDDEN + 1, &wgpu);
    assert!(!layer.has_kernel(&wgpu, DType::F32, 8));
}

#[test]
fn linear_batch_norm_relu_kernel_matches_burns_layers() {
    use burn::module::Param;
    use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig};
    use earshot::models::gpu::norm_op::linear_batch_norm_relu;
    let device = device();
    // A batch like the bench's; rows and inputs that are not multiples of
    // the kernels' sixteen; two rows; the data's own input, which has no
    // gradient (the first block); channels past a workgroup of threads (a
    // thread per channel) and a long batch.
    let cases = [
        (64, 40, 128, true),
        (50, 24, 37, true),
        (4_000, 8, 35, true),
        (300, 3, 5, true),
        (2, 4, 3, true),
        (20, 300, 7, true),
        (64, 40, 16, false),
    ];
    for (rows, input, channels, input_trains) in cases {
        let gamma = normal([channels], &device);
        let beta = normal([channels], &device);
        let weight = normal([input, channels], &device);
        let bias = normal([channels], &device) * 2.0;
        let layers = |device: &Device| -> (Linear, BatchNorm) {
            let mut n = BatchNormConfig::new(channels).init(device);
            n.gamma = Param::from_tensor(gamma.clone());
            n.beta = Param::from_tensor(beta.clone());
            let mut l = LinearConfig::new(input, channels).init(device);
            l.weight = Param::from_tensor(weight.clone());
            l.bias = Some(Param::from_tensor(bias.clone()));
            (l, n)
        };
        let ((ours_l, ours_n), (theirs_l, theirs_n)) = (layers(&device), layers(&device));
        let x = normal([rows, input], &device) * 3.0 + 1.0;
        let x = if input_trains { x.require_grad() } else { x };
        let ours = linear_batch_norm_relu(&ours_l, &ours_n, x.clone());
        let theirs = burn::tensor::activation::relu(theirs_n.forward(theirs_l.forward(x.clone())));
        let what = format!("linear + batch norm + relu {rows}x{input}x{channels}");
        assert_close(&format!("{what}: output"), ours.clone(), theirs.clone());
        let r = normal([rows, channels], &device);
        let g_ours = (ours * r.clone()).sum().backward();
        let g_theirs = (theirs * r).sum().backward();
        if input_trains {
            assert_grads_close(&format!("{what}: dx"), &x, &g_ours, &g_theirs);
        } else {
            assert!(x.grad(&g_ours).is_none(), "{what}: no gradient for data");
        }
        let pairs = [
            ("dgamma", ours_n.gamma.val(), theirs_n.gamma.val()),
            ("dbeta", ours_n.beta.val(), theirs_n.beta.val()),
            (
                "dbias",
                ours_l.bias.as_ref().unwrap().val(),
                theirs_l.bias.as_ref().unwrap().val(),
            ),
        ];
        for (name, a, b) in pairs {
            let (a, b) = (a.grad(&g_ours).unwrap(), b.grad(&g_theirs).unwrap());
            assert_close(&format!("{what}: {name}"), a, b);
        }
        let (a, b) = (ours_l.weight.val(), theirs_l.weight.val());
        assert_close(
            &format!("{what}: dw"),
            a.grad(&g_ours).unwrap(),
            b.grad(&g_theirs).unwrap(),
        );
        // Kept aside between steps until settled (as training does per epoch).
        earshot::models::gpu::norm_op::settle_running_stats(&ours_n);
        for (name, a, b) in [
            ("running mean", &ours_n.running_mean, &theirs_n.running_mean),
            ("running var", &ours_n.running_var, &theirs_n.running_var),
        ] {
            assert_close(&format!("{what}: {name}"), a.value_sync(), b.value_sync());
        }
    }
}

#[test]
fn inference_without_autodiff_runs_the_same_kernels() {
    // Scoring and detection run the models on the plain wgpu device: the
    // kernels' forward pass without a graph gives the training pass's values.
    let plain = Device::wgpu(DeviceKind::DefaultDevice);
    let tracked = plain.clone().autodiff();
    let (batch, time, input, hidden) = (3, 6, 5, 12);
    let x: Vec<f32> = (0..batch * time * input)
        .map(|i| ((i * 37 % 101) as f32 / 50.0 - 1.0) * 0.8)
        .collect();
    let lstm = FusedLstm::new(input, hidden, &plain);
    let gru_layer = GruConfig::new(input, hidden, true).init(&plain);
    let run = |device: &Device| {
        let x = Tensor::<3>::from_data(TensorData::new(x.clone(), [batch, time, input]), device);
        let lstm = lstm.clone().to_device(device);
        let gru_layer = gru_layer.clone().to_device(device);
        (
            lstm.forward_sequence(x.clone()).into_data(),
            gru(&gru_layer, x).into_data(),
        )
    };
    let (ours, graph) = (run(&plain), run(&tracked));
    for (what, a, b) in [("lstm", ours.0, graph.0), ("gru", ours.1, graph.1)] {
        let (a, b) = (
            a.try_to_vec::<f32>().unwrap(),
            b.try_to_vec::<f32>().unwrap(),
        );
        assert_eq!(a.len(), batch * time * hidden, "{what}");
        assert_eq!(a, b, "{what}: the same kernels give the same bits");
    }
}

#[test]
fn linear_mse_kernel_matches_burns_loss_and_float64() {
    use burn::module::Param;
    use burn::nn::LinearConfig;
    use earshot::models::gpu::loss_op::linear_mse;
    let device = device();
    // The bench's output layer; columns past a grid row; one row; a target
    // that trains (its gradient is the negated one).
    for (rows, input, columns, target_trains) in [
        (64, 128, 320, false),
        (70_000, 3, 2, false),
        (1, 5, 4, true),
        (2, 6, 70_000, true),
    ] {
        let mut layer = LinearConfig::new(input, columns).init(&device);
        layer.bias = Some(Param::from_tensor(normal([columns], &device)));
        let h = normal([rows, input], &device).require_grad();
        let target = normal([rows, columns], &device) * 2.0;
        let target = if target_trains {
            target.require_grad()
        } else {
            target
        };
        let ours = linear_mse(&layer, h.clone(), target.clone());
        let theirs = (layer.forward(h.clone()) - target.clone()).square().mean();
        let what = format!("linear + mse {rows}x{input}x{columns}");
        // The loss against a float64 sum on the host (burn's mean of 140,000
        // values on lavapipe is 7% off).
        let host = |t: Tensor<2>| t.into_data().convert::<f64>().try_to_vec::<f64>().unwrap();
        let (z, want) = (host(layer.forward(h.clone())), host(target.clone()));
        let exact = z
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).powi(2))
            .sum::<f64>()
            / z.len() as f64;
        let got = ours.clone().into_scalar::<f32>() as f64;
        assert!(
            (got - exact).abs() <= 1e-5 * exact,
            "{what}: loss {got}, float64 {exact}"
        );
        let (g_ours, g_theirs) = ((ours * 3.0).backward(), (theirs * 3.0).backward());
        assert_grads_close(&format!("{what}: dh"), &h, &g_ours, &g_theirs);
        let (w, b) = (layer.weight.val(), layer.bias.as_ref().unwrap().val());
        assert_grads_close(&format!("{what}: dw"), &w, &g_ours, &g_theirs);
        // The bias's, a sum over rows, against float64 too.
        let dbias = b
            .grad(&g_ours)
            .unwrap()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        for (c, got) in dbias.iter().enumerate() {
            let sum: f64 = (0..rows)
                .map(|r| z[r * columns + c] - want[r * columns + c])
                .sum();
            let exact = 3.0 * 2.0 * sum / z.len() as f64;
            let scale = exact.abs().max(1e-3);
            assert!(
                (*got as f64 - exact).abs() <= 1e-4 * scale,
                "{what}: dbias[{c}] {got}, float64 {exact}"
            );
        }
        if target_trains {
            assert_grads_close(&format!("{what}: dtarget"), &target, &g_ours, &g_theirs);
        }
    }
}

#[test]
fn mse_kernel_matches_float64_where_burns_mean_drifts() {
    use earshot::models::gpu::loss_op::mse;
    let device = device();
    // 140,000 values: burn's mean() on lavapipe is several percent off here.
    let (rows, columns) = (700, 200);
    let reconstruction = normal([rows, columns], &device).require_grad();
    let target = normal([rows, columns], &device);
    let ours = mse(reconstruction.clone(), target.clone());
    let host = |t: Tensor<2>| t.into_data().convert::<f64>().try_to_vec::<f64>().unwrap();
    let (r, t) = (host(reconstruction.clone()), host(target.clone()));
    let exact = r.iter().zip(&t).map(|(a, b)| (a - b).powi(2)).sum::<f64>() / r.len() as f64;
    let got = ours.clone().into_scalar::<f32>() as f64;
    assert!(
        (got - exact).abs() <= 1e-5 * exact,
        "loss {got}, float64 {exact}"
    );
    let theirs = (reconstruction.clone() - target).square().mean();
    let (g_ours, g_theirs) = (ours.backward(), theirs.backward());
    assert_grads_close("mse: dreconstruction", &reconstruction, &g_ours, &g_theirs);
}
