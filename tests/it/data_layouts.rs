//! Dataset layouts: the Bird Audio Detection CSV and the manifest, with their
//! per-line problems.
use crate::common;

use std::path::Path;

use earshot::data::{Label, list_bad, list_manifest};

fn touch_wav(dir: &Path, name: &str) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(dir.join(name), spec).unwrap();
    for i in 0..800 {
        w.write_sample((i % 50) as i16).unwrap();
    }
    w.finalize().unwrap();
}

#[test]
fn bad_layout_reads_the_shared_birds_labels_both_ways() {
    let data = common::real_data();
    let root = data.join("birds");
    let labels = root.join("labels.csv");
    // The seed's way: bird clips are normal, the rest is flagged.
    let (files, problems) = list_bad(&root, &labels, 1, &[]).unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(files.train.len(), 2);
    assert_eq!(files.test.len(), 1);
    assert!(
        files.test[0]
            .0
            .ends_with("ff3d3feb-3371-44ad-a3b3-85969c2cd5ab.wav")
    );
    assert_eq!(files.test[0].1, Label::Anomaly);
    // The usual way: clips without birds are normal.
    let (files, _) = list_bad(&root, &labels, 0, &[]).unwrap();
    assert_eq!(files.train.len(), 1);
    assert!(files.test.iter().all(|(_, l)| *l == Label::Anomaly) && files.test.len() == 2);
    // A test dataset's rows are all test data, normal ones included.
    let (files, _) = list_bad(&root, &labels, 1, &["opensoundscape".to_string()]).unwrap();
    assert_eq!(files.train.len(), 1);
    assert_eq!(files.test.len(), 2);
}

#[test]
fn bad_layout_reports_each_bad_row_with_its_line() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    for name in ["a.wav", "b.wav", "c.wav"] {
        touch_wav(d, name);
    }
    let csv = d.join("labels.csv");
    std::fs::write(
        &csv,
        "itemid,datasetid,hasbird\na,warblrb10k,0\nb,ff1010bird,1\na,warblrb10k,0\nmissing,warblrb10k,0\n\
         c,chernobyl,2\n../a,warblrb10k,0\nc,chernobyl\nc,chernobyl,0\n",
    )
    .unwrap();
    let (files, problems) = list_bad(d, &csv, 0, &["chernobyl".to_string()]).unwrap();
    let reasons: Vec<&str> = problems.iter().map(|p| p.reason.as_str()).collect();
    assert_eq!(reasons.len(), 5, "{reasons:?}");
    for (line, what) in [
        (4, "listed twice"),
        (5, "not found"),
        (6, "allowed: 0, 1"),
        (7, "plain file name"),
        (8, "got 2 fields"),
    ] {
        assert!(
            reasons
                .iter()
                .any(|r| r.starts_with(&format!("line {line}:")) && r.contains(what)),
            "line {line}: {reasons:?}"
        );
    }
    assert_eq!(files.train, vec![d.join("a.wav")]);
    assert_eq!(
        files.test,
        vec![
            (d.join("b.wav"), Label::Anomaly),
            (d.join("c.wav"), Label::Normal)
        ]
    );
    let none = list_bad(
        d,
        &csv,
        1,
        &[
            "ff1010bird".to_string(),
            "warblrb10k".to_string(),
            "chernobyl".to_string(),
        ],
    );
    assert!(none.unwrap_err().to_string().contains("no usable row"));
}

#[test]
fn manifest_rejects_paths_leaving_the_root_and_reports_lines() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    touch_wav(&root, "n1.wav");
    touch_wav(&root.join("sub"), "n2.wav");
    touch_wav(&root, "x.wav");
    touch_wav(tmp.path(), "outside.wav");
    let csv = tmp.path().join("m.csv");
    std::fs::write(
        &csv,
        "path,label,split\nn1.wav,normal,train\nsub/n2.wav,normal,test\nx.wav,anomaly,test\n../outside.wav,normal,train\n\
         /etc/passwd,normal,train\nn1.wav,normal,train\nx.wav,weird,test\nnope.wav,normal,train\nx.wav,1,train\n",
    )
    .unwrap();
    let (files, problems) = list_manifest(&root, &csv).unwrap();
    let reasons: Vec<&str> = problems.iter().map(|p| p.reason.as_str()).collect();
    for (line, what) in [
        (5, "leaves the dataset root"),
        (6, "leaves the dataset root"),
        (7, "listed twice"),
        (8, "unknown label"),
        (9, "not found"),
    ] {
        assert!(
            reasons
                .iter()
                .any(|r| r.starts_with(&format!("line {line}:")) && r.contains(what)),
            "line {line}: {reasons:?}"
        );
    }
    assert_eq!(files.train, vec![root.join("n1.wav")]);
    assert_eq!(
        files.test,
        vec![
            (root.join("sub/n2.wav"), Label::Normal),
            (root.join("x.wav"), Label::Anomaly)
        ]
    );
}
