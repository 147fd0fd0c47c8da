//! `earshot features` end to end, as a user runs it.
use crate::common;

use std::path::Path;
use std::process::{Command, Output};

fn earshot(args: &[&str], cache: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_earshot"))
        .args(args)
        .env("EARSHOT_CACHE_DIR", cache)
        .output()
        .expect("earshot runs")
}

#[test]
fn a_folder_with_good_and_bad_files_gives_npy_per_file_and_a_summary() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    std::fs::create_dir_all(input.join("nested/deeper")).unwrap();
    std::fs::copy(
        common::fixture("chirp_16k_float.wav"),
        input.join("chirp.wav"),
    )
    .unwrap();
    std::fs::copy(
        common::fixture("stereo_22k_pcm24.wav"),
        input.join("nested/stereo.wav"),
    )
    .unwrap();
    std::fs::copy(
        common::fixture("chirp_16k.ogg"),
        input.join("nested/deeper/chirp.ogg"),
    )
    .unwrap();
    std::fs::write(input.join("nested/broken.wav"), b"not audio at all").unwrap();
    std::fs::write(input.join("readme.txt"), b"ignored: not an audio extension").unwrap();
    let out = tmp.path().join("out");
    let cache = tmp.path().join("cache");
    let args = [
        "features",
        input.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--device",
        "cpu",
    ];

    let run = earshot(&args, &cache);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert!(stderr.contains("broken.wav: not a valid WAV"), "{stderr}");

    let (shape, data) = common::read_npy(&out.join("chirp.npy"));
    assert_eq!(shape, vec![1 + 20_800 / 512, 20]);
    assert!(data.iter().all(|v| v.is_finite()));
    // Resampled 22.05 kHz -> 16 kHz: 19845 samples become 14400.
    assert_eq!(
        common::read_npy(&out.join("nested/stereo.npy")).0,
        vec![1 + 14_400 / 512, 20]
    );
    assert!(out.join("nested/deeper/chirp.npy").is_file());

    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("features.json")).unwrap()).unwrap();
    assert_eq!(summary["config"]["n_fft"], 1024);
    assert_eq!(summary["config"]["kind"], "mfcc");
    assert_eq!(summary["files"].as_array().unwrap().len(), 3);
    let failures = summary["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1);
    assert!(
        failures[0]["path"]
            .as_str()
            .unwrap()
            .ends_with("broken.wav")
    );
    let stereo = summary["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"].as_str().unwrap().ends_with("stereo.wav"))
        .unwrap();
    assert_eq!(stereo["source_sample_rate"], 22_050);
    assert_eq!(stereo["resampled"], true);

    // A second run reads every file from the cache and writes the same arrays.
    let first = std::fs::read(out.join("chirp.npy")).unwrap();
    let again = earshot(&args, &cache);
    assert!(again.status.success());
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("features.json")).unwrap()).unwrap();
    assert!(
        summary["files"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["cached"] == true)
    );
    assert_eq!(std::fs::read(out.join("chirp.npy")).unwrap(), first);
}

#[test]
fn logmel_kind_and_options_shape_the_output() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let file = common::fixture("chirp_16k_float.wav");
    let run = earshot(
        &[
            "features",
            file.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--kind",
            "logmel",
            "--n-mels",
            "40",
            "--n-fft",
            "512",
            "--hop",
            "160",
            "--sr",
            "8000",
            "--no-cache",
        ],
        tmp.path(),
    );
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(
        common::read_npy(&out.join("chirp_16k_float.npy")).0,
        vec![1 + 10_400 / 160, 40]
    );
}

#[test]
fn nothing_usable_fails_and_says_why() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("a.wav"), b"text").unwrap();
    let out = tmp.path().join("out");
    let run = earshot(
        &[
            "features",
            tmp.path().to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        tmp.path(),
    );
    assert!(!run.status.success());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("a.wav: not a valid WAV") && stderr.contains("no input file could be used"),
        "{stderr}"
    );

    let run = earshot(
        &[
            "features",
            "/no/such/folder",
            "--out",
            out.to_str().unwrap(),
        ],
        tmp.path(),
    );
    assert!(!run.status.success());
    assert!(
        String::from_utf8_lossy(&run.stderr).contains("/no/such/folder: no such file or folder")
    );

    let run = earshot(
        &[
            "features",
            tmp.path().to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--n-mfcc",
            "500",
        ],
        tmp.path(),
    );
    assert!(!run.status.success());
    assert!(
        String::from_utf8_lossy(&run.stderr).contains("n_mfcc"),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
}

#[test]
fn bench_reports_json_with_the_promised_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let run = earshot(
        &[
            "bench", "features", "--hours", "0.02", "--clip-s", "1", "--repeat", "1", "--json",
        ],
        tmp.path(),
    );
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let result: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert!(result["audio_s_per_s"].as_f64().unwrap() > 0.0);
    assert!((result["hours"].as_f64().unwrap() - 0.02).abs() < 1e-9);
    assert_eq!(result["clips"], 72);
    assert!(result["threads"].as_u64().unwrap() >= 1);
}

fn read_npy(path: &Path) -> (Vec<usize>, Vec<f32>) {
    earshot::features::npy::read_f32(std::fs::File::open(path).unwrap()).unwrap()
}

#[test]
fn device_wgpu_writes_the_same_features_as_the_cpu_path_bad_files_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    for name in [
        "chirp_16k_float.wav",
        "stereo_22k_pcm24.wav",
        "short_16k_pcm16.wav",
    ] {
        std::fs::copy(common::fixture(name), input.join(name)).unwrap();
    }
    std::fs::write(input.join("broken.wav"), b"RIFF but no more").unwrap();
    let cache = tmp.path().join("cache");
    let run = |device: &str| {
        let out = tmp.path().join(device);
        let o = earshot(
            &[
                "features",
                input.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
                "--device",
                device,
                "--no-cache",
            ],
            &cache,
        );
        (out, o)
    };
    let (gpu_out, o) = run("wgpu");
    let stderr = String::from_utf8_lossy(&o.stderr);
    if common::skip_without_wgpu_adapter(&stderr) {
        return;
    }
    assert!(o.status.success(), "{stderr}");
    assert!(
        stderr.contains("3 file(s)") && stderr.contains("broken.wav"),
        "{stderr}"
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(gpu_out.join("features.json")).unwrap())
            .unwrap();
    assert_eq!(summary["device"], "wgpu");
    let (cpu_out, o) = run("cpu");
    assert!(o.status.success());
    for name in ["chirp_16k_float", "stereo_22k_pcm24", "short_16k_pcm16"] {
        let (gs, g) = read_npy(&gpu_out.join(format!("{name}.npy")));
        let (cs, c) = read_npy(&cpu_out.join(format!("{name}.npy")));
        assert_eq!(gs, cs, "{name}");
        let err = common::relative_max_error(&g, &c);
        assert!(err <= 1e-4, "{name}: {err:.2e}");
    }
}

#[test]
fn device_wgpu_without_an_adapter_says_how_to_get_one_and_auto_falls_back() {
    let tmp = tempfile::tempdir().unwrap();
    let wav = common::fixture("chirp_16k_float.wav");
    let out = tmp.path().join("out");
    // No Linux machine has DirectX 12: wgpu then sees no adapter at all.
    let run = |device: &str| {
        Command::new(env!("CARGO_BIN_EXE_earshot"))
            .args([
                "features",
                wav.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
                "--no-cache",
                "--device",
                device,
            ])
            .env("WGPU_BACKEND", "dx12")
            .output()
            .unwrap()
    };
    if !cfg!(target_os = "linux") {
        return;
    }
    let o = run("wgpu");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        stderr.contains("mesa-vulkan-drivers") && stderr.contains("--device cpu"),
        "{stderr}"
    );
    let o = run("auto");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(stderr.contains("features run on the CPU"), "{stderr}");
}
