//! `earshot export model`: safetensors with burn's module paths, the shapes
//! docs/pytorch_models.py builds, and what scoring needs in the metadata.
//! (tests/reference/pytorch_scores.py reproduces the clip scores in PyTorch.)
use crate::common;

use crate::common::earshot;

use earshot::safetensors::deserialize;

fn trained(dir: &std::path::Path) {
    common::synth_data(dir, 8, 2, 9);
    std::fs::write(
        dir.join("exp.toml"),
        "name = \"x\"\nseed = 1\n[data]\nlayout = \"folders\"\nroot = \"data\"\nframes = 8\nhop = 4\n\
         [features]\nn_mels = 32\nn_mfcc = 10\nn_fft = 512\nhop_length = 256\n\
         [[model]]\nkind = \"dense\"\nhidden = [16]\nbottleneck = 4\n\
         [[model]]\nkind = \"rnn\"\ncell = \"gru\"\nhidden = 6\nlatent = 3\n\
         [[model]]\nkind = \"knn\"\n[train]\nepochs = 1\nbatch_size = 16\n",
    )
    .unwrap();
    common::ok(
        &earshot(dir)
            .args(["train", "exp.toml", "--device", "cpu"])
            .output()
            .unwrap(),
    );
}

fn shapes(bytes: &[u8]) -> Vec<(String, Vec<usize>)> {
    let (tensors, _) = deserialize(bytes).unwrap();
    tensors.into_iter().map(|t| (t.name, t.shape)).collect()
}

#[test]
fn exported_models_have_burns_names_shapes_and_the_scoring_metadata() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    trained(dir);

    let out = common::ok(
        &earshot(dir)
            .args([
                "export",
                "model",
                "runs/x/dense",
                "--out",
                "dense.safetensors",
            ])
            .output()
            .unwrap(),
    );
    assert!(out.contains("dense.safetensors"), "{out}");
    let bytes = std::fs::read(dir.join("dense.safetensors")).unwrap();
    let s = |n: &str, shape: &[usize]| (n.to_string(), shape.to_vec());
    // 8 frames x 10 coefficients = 80 -> 16 -> 4 -> 16 -> 80, Linear weights [in, out].
    let mut expected = vec![s("output.bias", &[80]), s("output.weight", &[16, 80])];
    for (i, (a, b)) in [(80, 16), (16, 4), (4, 16)].into_iter().enumerate() {
        expected.push(s(&format!("blocks.{i}.linear.bias"), &[b]));
        expected.push(s(&format!("blocks.{i}.linear.weight"), &[a, b]));
        for p in ["beta", "gamma", "running_mean", "running_var"] {
            expected.push(s(&format!("blocks.{i}.norm.{p}"), &[b]));
        }
    }
    expected.sort();
    assert_eq!(shapes(&bytes), expected);

    let (_, meta) = deserialize(&bytes).unwrap();
    let normalizer: serde_json::Value = serde_json::from_str(&meta["normalizer"]).unwrap();
    let stored: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("runs/x/dense/model/normalizer.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(normalizer, stored);
    let window: serde_json::Value = serde_json::from_str(&meta["window"]).unwrap();
    assert_eq!(
        window,
        serde_json::json!({"frames": 8, "coeffs": 10, "hop": 4})
    );
    assert_eq!(meta["kind"], "dense");
    assert!(meta.contains_key("threshold") && meta.contains_key("eval"));

    // The GRU keeps burn's per-gate layout, under the enum variant's name.
    common::ok(
        &earshot(dir)
            .args(["export", "model", "runs/x/rnn"])
            .output()
            .unwrap(),
    );
    let rnn = shapes(&std::fs::read(dir.join("runs/x/rnn/model/model.safetensors")).unwrap());
    assert!(rnn.contains(&s(
        "encoder.0.Gru.update_gate.input_transform.weight",
        &[10, 6]
    )));
    assert!(rnn.contains(&s("decoder.0.Gru.new_gate.hidden_transform.bias", &[6])));
    assert!(rnn.contains(&s("to_latent.weight", &[6, 3])));
    assert_eq!(rnn.len(), 2 * 3 * 4 + 4);
}

#[test]
fn export_refuses_what_is_not_a_network_and_names_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    trained(dir);
    let out = earshot(dir)
        .args(["export", "model", "runs/x/knn"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        common::text(&out).contains("reference detector"),
        "{}",
        common::text(&out)
    );
    let out = earshot(dir)
        .args(["export", "model", "data"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text = common::text(&out);
    assert!(
        text.contains("config.toml") && text.contains("trained trial"),
        "{text}"
    );
}

/// Exports never destroy: not into the trial's own files, not from a failed
/// or unfinished run without saying so; and detection is never silently off.
#[test]
fn exports_and_detection_refuse_what_would_lose_or_hide_something() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    trained(dir);
    let export = |args: &[&str]| {
        earshot(dir)
            .args(["export", "model", "runs/x/dense", "--out"])
            .args(args)
            .output()
            .unwrap()
    };
    let detect = || {
        earshot(dir)
            .args(["detect", "--model", "runs/x/dense", "new"])
            .output()
            .unwrap()
    };
    let model = dir.join("runs/x/dense/model/model.bin");
    let before = std::fs::read(&model).unwrap();

    // --out onto the trial's own model: refused, the model intact.
    let out = export(&["runs/x/dense/model/model.bin"]);
    let text = common::text(&out);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("inside the trial folder"), "{text}");
    assert_eq!(std::fs::read(&model).unwrap(), before);
    // The same through another spelling of the path.
    let out = export(&["runs/x/../x/dense/config.toml"]);
    assert!(!out.status.success(), "{}", common::text(&out));

    // A run that never ended (killed): refused, then exported with its status.
    let events = dir.join("runs/x/dense/events.jsonl");
    let log = std::fs::read_to_string(&events).unwrap();
    let unfinished: String = log
        .lines()
        .filter(|l| !l.contains("\"status\""))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&events, &unfinished).unwrap();
    let out = export(&["d.safetensors"]);
    let text = common::text(&out);
    assert!(
        !out.status.success() && text.contains("--allow-unfinished"),
        "{text}"
    );
    assert!(!dir.join("d.safetensors").exists());
    common::ok(&export(&["d.safetensors", "--allow-unfinished"]));
    let (_, meta) = deserialize(&std::fs::read(dir.join("d.safetensors")).unwrap()).unwrap();
    assert_eq!(meta["status"], "unfinished");
    // A failed run: refused, its reason named.
    std::fs::write(
        &events,
        format!(
            "{unfinished}{{\"status\":\"failed\",\"reason\":\"loss became NaN in epoch 1\"}}\n"
        ),
    )
    .unwrap();
    let out = export(&["f.safetensors"]);
    let text = common::text(&out);
    assert!(
        !out.status.success() && text.contains("failed") && text.contains("NaN"),
        "{text}"
    );
    std::fs::write(&events, &log).unwrap();

    // Detection: a garbled or emptied threshold.json is an error naming it.
    common::synth_data(&dir.join("new"), 1, 1, 3);
    let threshold = dir.join("runs/x/dense/model/threshold.json");
    let good = std::fs::read(&threshold).unwrap();
    for broken in [&b""[..], &b"{\"value\": tru"[..]] {
        std::fs::write(&threshold, broken).unwrap();
        let out = detect();
        let text = common::text(&out);
        assert!(!out.status.success(), "{text}");
        assert!(
            text.contains("threshold.json") && text.contains("unreadable"),
            "{text}"
        );
    }
    // Deleted, while metrics.json records a fitted threshold: also an error.
    std::fs::remove_file(&threshold).unwrap();
    let out = detect();
    let text = common::text(&out);
    assert!(!out.status.success() && text.contains("missing"), "{text}");
    std::fs::write(&threshold, good).unwrap();
    // A trial whose model/ was deleted: the error names model/, not a file inside it.
    std::fs::remove_dir_all(dir.join("runs/x/dense/model")).unwrap();
    let out = detect();
    let text = common::text(&out);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("dense/model: missing"), "{text}");
}
