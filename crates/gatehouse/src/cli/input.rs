//! Secrets the CLI reads: from stdin (`--password-stdin`, `--secret-stdin`) or a no-echo prompt.
//!
//! Passwords never come from a flag: flags end up in shell history and in `ps` output.

use anyhow::{anyhow, bail};
use gatehouse_core::secret::SecretString;
use std::convert::Infallible;
use std::io::Read;

/// clap value parser that wraps a flag's value so `Debug` cannot print it.
pub(crate) fn secret_arg(s: &str) -> Result<SecretString, Infallible> {
    Ok(SecretString::new(s))
}

/// Reads one secret from stdin: everything up to EOF, minus one trailing line break.
pub(crate) fn secret_from_stdin(what: &str, flag: &str) -> anyhow::Result<SecretString> {
    let mut raw = String::new();
    std::io::stdin()
        .read_to_string(&mut raw)
        .map_err(|e| anyhow!("reading the {what} from stdin ({flag}): {e}"))?;
    secret_from_text(raw, what, flag)
}

fn secret_from_text(mut raw: String, what: &str, flag: &str) -> anyhow::Result<SecretString> {
    if raw.ends_with('\n') {
        raw.pop();
        if raw.ends_with('\r') {
            raw.pop();
        }
    }
    if raw.is_empty() {
        bail!(
            "{flag} read an empty {what} from stdin: pipe the {what} in, e.g. `printf '%s' \"$VALUE\" | gatehouse … {flag}`"
        );
    }
    if raw.contains(['\n', '\r']) {
        bail!("{flag} read more than one line from stdin: pipe in only the {what}");
    }
    Ok(SecretString::new(raw))
}

/// Asks for a new password twice on the terminal, without echo.
pub(crate) fn prompt_new_password() -> anyhow::Result<SecretString> {
    let no_tty = |e: std::io::Error| {
        anyhow!("cannot prompt for the password ({e}): pipe it in with --password-stdin instead")
    };
    let first = rpassword::prompt_password("New password: ").map_err(no_tty)?;
    if first.is_empty() {
        bail!("the password is empty: type a password, or pipe one in with --password-stdin");
    }
    let second = rpassword::prompt_password("Repeat password: ").map_err(no_tty)?;
    if first != second {
        bail!("the two passwords differ: nothing was changed, run the command again");
    }
    Ok(SecretString::new(first))
}

/// The new password from `--password-stdin` or the prompt.
pub(crate) fn new_password(from_stdin: bool) -> anyhow::Result<SecretString> {
    if from_stdin {
        secret_from_stdin("password", "--password-stdin")
    } else {
        prompt_new_password()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn read(s: &str) -> Result<String, String> {
        secret_from_text(s.to_owned(), "password", "--password-stdin")
            .map(|s| s.expose().to_owned())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn strips_exactly_one_trailing_line_break() {
        assert_eq!(read("hunter2\n"), Ok("hunter2".into()));
        assert_eq!(read("hunter2\r\n"), Ok("hunter2".into()));
        assert_eq!(read("hunter2"), Ok("hunter2".into()));
        assert_eq!(read(" spaced \n"), Ok(" spaced ".into()));
    }

    #[test]
    fn rejects_empty_and_multi_line_input() {
        assert!(read("").unwrap_err().contains("empty password"));
        assert!(read("\n").unwrap_err().contains("empty password"));
        assert!(read("a\nb\n").unwrap_err().contains("more than one line"));
    }
}
