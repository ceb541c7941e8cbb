//! Embeds every trained model file `models/*.esm` at the repository root into the binary, so
//! `earshot` analyses with them without any file beside it. A workspace's own `models/*.esm`
//! override them at run time (see src/models.rs).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let repository_root = manifest_dir
        .parent()
        .and_then(Path::parent)
        .expect("the crate lives in crates/earshot-cli")
        .to_path_buf();
    let models_dir = repository_root.join("models");
    // Cargo rescans a watched directory for changes; with no models directory yet, the root
    // manifest stands in (run `touch crates/earshot-cli/build.rs` after adding the first model).
    if models_dir.is_dir() {
        println!("cargo:rerun-if-changed={}", models_dir.display());
    } else {
        println!(
            "cargo:rerun-if-changed={}",
            repository_root.join("Cargo.toml").display()
        );
    }
    println!("cargo:rerun-if-changed=build.rs");

    let mut files: Vec<PathBuf> = std::fs::read_dir(&models_dir)
        .map(|entries| {
            entries
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|path| path.extension().is_some_and(|e| e == "esm") && path.is_file())
                .collect()
        })
        .unwrap_or_default();
    files.sort();

    let mut code = String::from(
        "/// Model files found under `models/` when the binary was built: (file name, bytes).\n\
         pub static EMBEDDED_MODELS: &[(&str, &[u8])] = &[\n",
    );
    for path in &files {
        let name = path
            .file_name()
            .expect("a file has a name")
            .to_string_lossy();
        writeln!(
            code,
            "    ({name:?}, include_bytes!({:?})),",
            path.display().to_string()
        )
        .expect("writing to a string");
    }
    code.push_str("];\n");
    let out =
        PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo")).join("embedded_models.rs");
    std::fs::write(&out, code).expect("cannot write the embedded model list");
}
