//! The command line: `--help`, `--print`, and how failures are reported.

use super::*;

#[test]
fn help_on_every_command() {
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["--help"],
            &["keys", "clients", "users", "demo", "--remote", "--print", "--persist-to", "--wrangler", "--config"],
        ),
        (&["keys", "--help"], &["generate", "add", "activate", "retire", "remove", "session-key", "public"]),
        (&["keys", "generate", "--help"], &["--bits", "--alg", "EdDSA"]),
        (&["keys", "add", "--help"], &["--alg", "--file", "ES256"]),
        (&["keys", "activate", "--help"], &["KID", "--file"]),
        (&["keys", "retire", "--help"], &["KID", "--file", "--force"]),
        (&["keys", "remove", "--help"], &["--id-token-ttl", "--force"]),
        (&["keys", "session-key", "--help"], &["SESSION_KEY"]),
        (&["keys", "public", "--help"], &["stdin"]),
        (&["clients", "--help"], &["add", "list", "show", "remove"]),
        (
            &["clients", "add", "--help"],
            &[
                "--redirect-uri",
                "--auth-method",
                "client_secret_post",
                "--scope",
                "--force",
                "--json",
                "--id-token-alg",
            ],
        ),
        (&["clients", "list", "--help"], &["List"]),
        (&["clients", "show", "--help"], &["CLIENT_ID"]),
        (&["clients", "remove", "--help"], &["CLIENT_ID"]),
        (&["users", "--help"], &["add", "list", "show", "remove"]),
        (
            &["users", "add", "--help"],
            &["--password-stdin", "--iterations", "--email-verified", "--given-name", "--zoneinfo", "--force"],
        ),
        (&["users", "list", "--help"], &["List"]),
        (&["users", "show", "--help"], &["USERNAME"]),
        (&["users", "remove", "--help"], &["alias"]),
        (&["demo", "--help"], &["--redirect-uri", "demo-password"]),
    ];
    for (args, expected) in cases {
        let out = admin_ok(args, "");
        for word in *expected {
            assert!(out.contains(word), "oidc-admin {args:?} does not mention {word}:\n{out}");
        }
    }
    // No command: help on stderr, usage exit status.
    let err = admin_err(&[], "", 2);
    assert!(err.contains("Usage"), "{err}");
}

#[test]
fn print_is_for_writes_only() {
    let err = admin_err(&["--print", "clients", "list"], "", 2);
    assert!(err.contains("--print"), "{err}");
    let err = admin_err(&["--print", "--remote", "demo"], "", 2);
    assert!(err.contains("cannot be used with"), "{err}");
}

#[test]
fn wrangler_failures_are_reported() {
    let dir = scratch_dir("failing-wrangler");
    let missing = dir.join("no-such-wrangler");
    let err = admin_err(&["--wrangler", missing.to_str().unwrap(), "clients", "list"], "", 1);
    assert!(err.starts_with("error: ") && err.contains("kv key list") && err.contains("--wrangler"), "{err}");

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let script = dir.join("wrangler");
        std::fs::write(
            &script,
            "#!/bin/sh\necho '\u{1b}[31m✘ [ERROR] namespace CLIENTS not found\u{1b}[0m' >&2\nexit 1\n",
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let err = admin_err(&["--wrangler", script.to_str().unwrap(), "clients", "show", "app"], "", 1);
        assert!(err.contains("wrangler kv key get app") && err.contains("namespace CLIENTS not found"), "{err}");
        assert!(!err.contains('\u{1b}'), "colour codes: {err:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------- through wrangler
