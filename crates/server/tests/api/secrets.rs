//! Secrets kept: a database password never printed, command-line passwords read from
//! standard input or the environment, never taken from a flag `ps` would show.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::harness::{Backend, TestApp};
use crate::on_both_databases;

on_both_databases!(cli_passwords_come_from_stdin_or_the_environment_never_a_flag);

/// Runs `ladder` on `url` with `stdin` on its standard input and `env` set; returns whether
/// it succeeded and what it wrote to both outputs.
fn ladder(url: &str, args: &[&str], stdin: &str, env: &[(&str, &str)]) -> (bool, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ladder"))
        .args(["--database-url", url])
        .args(args)
        .env("LADDER_LOG", "info")
        .env_remove("LADDER_PASSWORD")
        .env_remove("LADDER_OWNER_PASSWORD")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ladder");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("ladder ends");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

async fn cli_passwords_come_from_stdin_or_the_environment_never_a_flag(b: Backend) {
    let app = TestApp::spawn(b).await;
    let create = |slug: &'static str, password_flag: &'static [&'static str]| {
        let mut args = vec![
            "tenant",
            "create",
            "--name",
            slug,
            "--slug",
            slug,
            "--owner-email",
            "boss@piped.example",
        ];
        args.extend_from_slice(password_flag);
        args
    };

    // A password after the flag is refused, and nothing is created.
    let (ok, said) = ladder(
        &app.url,
        &create("flagged", &["--owner-password", "visible-in-ps"]),
        "",
        &[],
    );
    assert!(!ok, "{said}");
    assert!(said.contains("standard input"), "{said}");
    assert_eq!(app.count("SELECT COUNT(*) FROM tenants").await, 0);

    // `-` reads it from standard input.
    let (ok, said) = ladder(
        &app.url,
        &create("piped", &["--owner-password", "-"]),
        "piped-password-1\n",
        &[],
    );
    assert!(ok, "{said}");
    assert!(!said.contains("piped-password-1"), "{said}");
    app.login("piped", "boss@piped.example", "piped-password-1")
        .await;

    // Without the flag, from the environment.
    let (ok, said) = ladder(
        &app.url,
        &create("env", &[]),
        "",
        &[("LADDER_OWNER_PASSWORD", "env-password-1")],
    );
    assert!(ok, "{said}");
    app.login("env", "boss@piped.example", "env-password-1")
        .await;
    let (ok, said) = ladder(
        &app.url,
        &["platform", "add-user", "--email", "help@platform.example"],
        "",
        &[("LADDER_PASSWORD", "platform-password-1")],
    );
    assert!(ok, "{said}");
    app.login("platform", "help@platform.example", "platform-password-1")
        .await;

    // Neither: refused, saying where to put it.
    let (ok, said) = ladder(&app.url, &create("none", &[]), "", &[]);
    assert!(!ok, "{said}");
    assert!(said.contains("LADDER_OWNER_PASSWORD"), "{said}");
}

/// The PostgreSQL URL's password never shows in what `ladder` prints, whatever fails.
#[test]
fn a_database_password_is_never_printed() {
    let admin = std::env::var("LADDER_TEST_PG_URL").expect("LADDER_TEST_PG_URL");
    let mut missing = url::Url::parse(&admin).expect("a URL");
    missing
        .set_password(Some("s3cret-pw"))
        .expect("a URL that takes a password");
    missing.set_path("/ladder_no_such_database");
    let mut in_query = url::Url::parse(&admin).expect("a URL");
    in_query.set_path("/ladder_no_such_database");
    in_query.set_query(Some("password=s3cret-pw"));
    for url in [
        missing.to_string(),
        in_query.to_string(),
        "mysql://ladder:s3cret-pw@127.0.0.1/ladder".to_owned(),
    ] {
        let (ok, said) = ladder(&url, &["migrate"], "", &[]);
        assert!(!ok, "{url}: {said}");
        assert!(!said.contains("s3cret-pw"), "{url}: {said}");
        // The URL is still shown, so that the operator sees which database failed.
        assert!(said.contains("127.0.0.1"), "{url}: {said}");
    }
    // Nor in the help, when it comes from the environment.
    let out = Command::new(env!("CARGO_BIN_EXE_ladder"))
        .args(["serve", "--help"])
        .env("LADDER_DATABASE_URL", missing.as_str())
        .output()
        .expect("help");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("s3cret-pw"));
}
