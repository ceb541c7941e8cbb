//! Where a workspace lives and how its configuration is read and written.
//!
//! Every command resolves the workspace the same way: `--dir DIR`, else `$EARSHOT_DIR`, else
//! the current directory (clap fills `--dir` from the environment variable).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use earshot_core::Config;
use earshot_store::{SqliteStore, Store};

pub const CONFIG_FILE: &str = "earshot.toml";

pub struct Workspace {
    pub dir: PathBuf,
}

impl Workspace {
    pub fn resolve(dir: Option<PathBuf>) -> Result<Workspace> {
        let dir = match dir {
            Some(dir) => dir,
            None => std::env::current_dir().context("cannot read the current directory")?,
        };
        Ok(Workspace { dir })
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.join(CONFIG_FILE)
    }

    /// Create the configuration and the database. Refuses to overwrite an existing workspace.
    pub async fn init(&self, config: &Config) -> Result<()> {
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("cannot create the directory {}", self.dir.display()))?;
        if self.config_path().exists() {
            bail!(
                "{} already exists: this directory is already an Earshot workspace",
                self.config_path().display()
            );
        }
        self.save_config(config)?;
        SqliteStore::open(&self.dir)
            .await
            .with_context(|| format!("cannot create the database in {}", self.dir.display()))?;
        Ok(())
    }

    pub fn load_config(&self) -> Result<Config> {
        let path = self.config_path();
        let text = std::fs::read_to_string(&path).map_err(|error| {
            if error.kind() == std::io::ErrorKind::NotFound {
                anyhow::anyhow!(
                    "{} not found: run `earshot init` first, or point --dir / EARSHOT_DIR at a workspace",
                    path.display()
                )
            } else {
                anyhow::anyhow!("cannot read {}: {error}", path.display())
            }
        })?;
        toml::from_str(&text).with_context(|| format!("{} is not valid", path.display()))
    }

    /// Write atomically (temporary file, then rename) so a crash never leaves half a config.
    pub fn save_config(&self, config: &Config) -> Result<()> {
        let text = toml::to_string_pretty(config).context("cannot serialize the configuration")?;
        let text = format!(
            "# Earshot workspace configuration. Edited by `earshot brand` and `earshot source`;\n\
             # hand edits are kept as long as they are valid.\n\n{text}"
        );
        write_atomically(&self.config_path(), text.as_bytes())
    }

    pub async fn open_store(&self) -> Result<Arc<dyn Store>> {
        let store = SqliteStore::open(&self.dir)
            .await
            .with_context(|| format!("cannot open the store in {}", self.dir.display()))?;
        Ok(Arc::new(store))
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut temp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    std::io::Write::write_all(&mut temp, bytes)?;
    temp.persist(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
