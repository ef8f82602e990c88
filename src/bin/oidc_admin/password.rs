//! Passwords come from a prompt (typed twice) or the first line of stdin, never from an
//! argument (arguments are visible to other processes and kept in shell history).

use crate::error::{failed, usage, Result};
use std::io::BufRead;

pub const MIN_LEN: usize = 8;

/// The new password for `username`, checked.
pub fn obtain(from_stdin: bool, username: &str) -> Result<String> {
    let password = if from_stdin { read_line(std::io::stdin().lock())? } else { prompt_twice(username)? };
    check(&password)?;
    Ok(password)
}

/// The first line of `input`, without its line ending.
fn read_line(mut input: impl BufRead) -> Result<String> {
    let mut line = String::new();
    let n = input.read_line(&mut line).map_err(|e| failed(format!("cannot read the password from stdin: {e}")))?;
    if n == 0 {
        return Err(usage("--password-stdin: stdin is empty"));
    }
    let line = line.strip_suffix('\n').unwrap_or(&line);
    Ok(line.strip_suffix('\r').unwrap_or(line).to_string())
}

fn prompt_twice(username: &str) -> Result<String> {
    let ask = |prompt: &str| {
        rpassword::prompt_password(prompt)
            .map_err(|e| usage(format!("cannot prompt for the password ({e}); use --password-stdin to pipe it in")))
    };
    let first = ask(&format!("Password for {username}: "))?;
    check(&first)?;
    let second = ask("Repeat the password: ")?;
    if first != second {
        return Err(usage("the passwords do not match"));
    }
    Ok(first)
}

pub fn check(password: &str) -> Result<()> {
    if password.is_empty() {
        return Err(usage("the password is empty"));
    }
    if password.chars().count() < MIN_LEN {
        return Err(usage(format!("the password is shorter than {MIN_LEN} characters")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_first_line() {
        assert_eq!(read_line(&b"correct horse\r\nnext"[..]).unwrap(), "correct horse");
        assert_eq!(read_line(&b"  spaces kept  \n"[..]).unwrap(), "  spaces kept  ");
        assert_eq!(read_line(&b"no newline"[..]).unwrap(), "no newline");
        assert!(read_line(&b""[..]).is_err());
    }

    #[test]
    fn length_rule() {
        assert!(check("").is_err());
        assert!(check("1234567").is_err());
        assert!(check("12345678").is_ok());
    }
}
