//! Embeds every translation file in `locales/` (`<language>.toml`), so adding a language is
//! adding a file.

use std::env;
use std::fmt::Write as _;
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?).join("locales");
    let mut files: Vec<(String, PathBuf)> = std::fs::read_dir(&dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .filter_map(|p| Some((p.file_stem()?.to_str()?.to_owned(), p)))
        .collect();
    files.sort();
    let mut out = String::from("/// Every bundled translation: (language tag, TOML source).\n");
    out.push_str("pub(crate) const BUNDLED: &[(&str, &str)] = &[\n");
    for (tag, path) in &files {
        writeln!(
            out,
            "    ({tag:?}, include_str!({:?})),",
            path.display().to_string()
        )?;
    }
    out.push_str("];\n");
    std::fs::write(
        PathBuf::from(env::var("OUT_DIR")?).join("bundled_locales.rs"),
        out,
    )?;
    println!("cargo:rerun-if-changed={}", dir.display());
    Ok(())
}
