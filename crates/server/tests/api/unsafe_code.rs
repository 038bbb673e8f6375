//! `unsafe` is forbidden in every crate of the workspace, each of its targets included (the
//! lint is set once for the workspace and each crate must opt in to it).

use toml_edit::DocumentMut;

fn manifest(path: &std::path::Path) -> DocumentMut {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    text.parse()
        .unwrap_or_else(|e| panic!("{path:?} is not TOML: {e}"))
}

#[test]
fn every_crate_forbids_unsafe_code() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let workspace = manifest(&root.join("Cargo.toml"));
    assert_eq!(
        workspace["workspace"]["lints"]["rust"]["unsafe_code"].as_str(),
        Some("forbid"),
        "the workspace's lints must forbid unsafe_code"
    );
    let members = workspace["workspace"]["members"]
        .as_array()
        .expect("workspace members");
    assert!(!members.is_empty());
    for member in members {
        let member = member.as_str().expect("a member path");
        let crate_manifest = manifest(&root.join(member).join("Cargo.toml"));
        assert_eq!(
            crate_manifest["lints"]["workspace"].as_bool(),
            Some(true),
            "{member} must take the workspace's lints ([lints] workspace = true)"
        );
        // Its library or binary root says so as well, for a reader of the code.
        let roots = ["src/lib.rs", "src/main.rs"]
            .map(|r| root.join(member).join(r))
            .into_iter()
            .filter(|p| p.exists())
            .collect::<Vec<_>>();
        assert!(
            !roots.is_empty(),
            "{member} has no src/lib.rs or src/main.rs"
        );
        for r in roots {
            let text = std::fs::read_to_string(&r).expect("read the crate root");
            assert!(
                text.contains("#![forbid(unsafe_code)]"),
                "{r:?} does not say #![forbid(unsafe_code)]"
            );
        }
    }
}
