//! The command line itself: the shells' completion scripts.

use std::process::Command;

use crate::support::{BERTH, stderr};

#[test]
fn completions_load_in_bash_and_complete_commands() {
    // What the issue asks a user to run, then a completion of `berth ren` as bash makes it.
    let script = format!(
        "source <({BERTH} completion bash) && complete -p berth && \
         COMP_WORDS=(berth ren); COMP_CWORD=1; COMP_LINE='berth ren'; COMP_POINT=9; \
         _berth berth ren berth; echo \"${{COMPREPLY[@]}}\""
    );
    let out = Command::new("bash").args(["-c", &script]).output().expect("bash runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(text, "complete -o bashdefault -o default -o nosort -F _berth berth\nrename\n");
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let out = Command::new(BERTH).args(["completion", shell]).output().expect("berth runs");
        assert!(out.status.success() && out.stdout.len() > 1000, "{shell}: {}", stderr(&out));
    }
    let out = Command::new(BERTH).args(["completion", "tcsh"]).output().expect("berth runs");
    assert!(!out.status.success() && stderr(&out).contains("tcsh"), "{}", stderr(&out));
}
