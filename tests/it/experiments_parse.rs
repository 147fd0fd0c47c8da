//! Every shipped experiment file parses and validates, so a typo in one is
//! caught here, not by a user after a long download.

use earshot::experiment::Experiment;

#[test]
fn every_shipped_experiment_is_valid() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap().flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "toml") {
            let exp = Experiment::load(&path).unwrap_or_else(|e| panic!("{e}"));
            assert!(!exp.model.is_empty(), "{}: no [[model]]", path.display());
            names.push(exp.name);
        }
    }
    names.sort();
    assert!(names.len() >= 10, "{names:?}");
    assert!(names.contains(&"dcase_baseline".to_string()), "{names:?}");
}
