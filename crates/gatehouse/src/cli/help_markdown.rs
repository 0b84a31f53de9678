//! `gatehouse help-markdown` (hidden): the command-line reference `docs/cli.md`, rendered from
//! the CLI's own `--help` so the documentation cannot say something the binary does not do.
//!
//! A test compares the file with this output; regenerate it with
//! `cargo run -p gatehouse -- help-markdown > docs/cli.md`.

use clap::Command;

/// The command that regenerates `docs/cli.md`.
pub const REGENERATE: &str = "cargo run -p gatehouse -- help-markdown > docs/cli.md";

/// Every visible command's long help, depth first, as one Markdown document.
pub fn help_markdown(mut command: Command) -> String {
    // Environment values are the reader's machine, not documentation (and may be secrets).
    command = command.mut_args(|a| a.hide_env_values(true));
    command.build();
    let mut out = format!(
        "# Command-line reference\n\n\
         Generated from the `gatehouse` binary's own help; do not edit by hand. Regenerate with\n\
         `{REGENERATE}`.\n"
    );
    section(&mut command, &mut out);
    out
}

fn section(command: &mut Command, out: &mut String) {
    let name = command
        .get_bin_name()
        .unwrap_or(command.get_name())
        .to_owned();
    let help = command.render_long_help().to_string();
    let help: Vec<&str> = help.lines().map(str::trim_end).collect();
    out.push_str(&format!(
        "\n## `{name}`\n\n```text\n{}\n```\n",
        help.join("\n").trim_end()
    ));
    let names: Vec<String> = command
        .get_subcommands()
        .filter(|c| !c.is_hide_set() && c.get_name() != "help")
        .map(|c| c.get_name().to_owned())
        .collect();
    for sub in names {
        if let Some(sub) = command.find_subcommand_mut(&sub) {
            let mut sub = sub.clone().mut_args(|a| a.hide_env_values(true));
            section(&mut sub, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Arg, Command};

    #[test]
    fn every_visible_command_gets_a_section_without_env_values() {
        let cmd = Command::new("tool")
            .arg(Arg::new("url").long("url").env("PATH"))
            .subcommand(Command::new("shown").about("Shown."))
            .subcommand(Command::new("secret").hide(true));
        let md = help_markdown(cmd);
        assert!(
            md.contains("\n## `tool`\n") && md.contains("\n## `tool shown`\n"),
            "{md}"
        );
        assert!(md.contains("[env: PATH]"), "{md}");
        let path = std::env::var("PATH").unwrap_or_default();
        assert!(
            path.is_empty() || !md.contains(&path),
            "an environment value leaked: {md}"
        );
        assert!(!md.contains("secret"), "{md}");
        assert!(!md.lines().any(|l| l.ends_with(' ')), "{md}");
    }
}
