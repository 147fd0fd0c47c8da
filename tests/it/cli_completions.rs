//! `earshot completions`: scripts each shell accepts, naming every command.

use crate::common::{earshot, text};

#[test]
fn completion_scripts_name_the_commands_and_bash_parses_them() {
    let tmp = tempfile::tempdir().unwrap();
    let script = |shell: &str| {
        let out = earshot(tmp.path())
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        String::from_utf8(out.stdout).unwrap()
    };
    let bash = script("bash");
    for word in ["train", "sweep", "export", "completions", "--device"] {
        assert!(bash.contains(word), "bash script lacks {word}");
    }
    std::fs::write(tmp.path().join("earshot.bash"), &bash).unwrap();
    let syntax = std::process::Command::new("bash")
        .args(["-n", "earshot.bash"])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert!(syntax.status.success(), "{}", text(&syntax));
    assert!(script("zsh").starts_with("#compdef earshot"));
    assert!(script("fish").contains("complete -c earshot"));

    let out = earshot(tmp.path())
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("possible values"), "{}", text(&out));
}
