//! Secrets at rest. Network credentials of the official accounts are sealed with
//! XChaCha20-Poly1305 under the workspace's master key before they reach the database, so a
//! copy of `earshot.db` alone publishes nothing.
//!
//! The master key comes from `EARSHOT_MASTER_KEY` (64 hex characters = 32 bytes) or else from
//! the workspace's `master.key` file (the same 64 hex characters), which `earshot init` creates
//! with mode 0600. Nothing else creates it: a command that finds no key stops with an error
//! instead of quietly minting a new key that could not open what an old one sealed.
//!
//! A sealed record is `version (1 byte) || nonce (24 bytes) || ciphertext+tag`. The nonce is
//! random per seal (192 bits, so random nonces never collide in practice), and the record's
//! identity (the account it belongs to) is the associated data: a ciphertext copied onto
//! another account fails authentication exactly like a wrong key or a flipped bit.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;

/// The environment variable that holds the master key (64 hex characters).
pub const MASTER_KEY_ENV: &str = "EARSHOT_MASTER_KEY";
/// The key file's name inside the workspace directory.
pub const MASTER_KEY_FILE: &str = "master.key";

const FORMAT_VERSION: u8 = 1;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error(
        "no master key: set {MASTER_KEY_ENV} (64 hex characters) or run `earshot init` to create {}",
        .0.display()
    )]
    NoKey(PathBuf),
    #[error("the master key in {source_name} is not valid: {reason}")]
    BadKey { source_name: String, reason: String },
    #[error(
        "the key file {} can be read by others (mode {mode:o}); run `chmod 600 {}`",
        .path.display(), .path.display()
    )]
    KeyFileTooOpen { path: PathBuf, mode: u32 },
    #[error("{action} {}: {error}", .path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("the credentials of {identity} cannot be decrypted: wrong master key, or the record was altered or moved to another account")]
    CannotOpen { identity: String },
    #[error("the credentials of {identity} are not a sealed record ({reason})")]
    Malformed { identity: String, reason: String },
}

/// The workspace's 32-byte master key. Its `Debug` never shows the bytes.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl Drop for MasterKey {
    fn drop(&mut self) {
        // Best effort: the key should not linger in freed memory.
        self.0.iter_mut().for_each(|b| *b = 0);
        std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::SeqCst);
    }
}

impl MasterKey {
    /// A fresh random key.
    pub fn generate() -> MasterKey {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        MasterKey(bytes)
    }

    /// Parse 64 hex characters (surrounding whitespace ignored); `source_name` says where the
    /// text came from, for the error.
    pub fn from_hex(text: &str, source_name: &str) -> Result<MasterKey, VaultError> {
        let bad = |reason: String| VaultError::BadKey {
            source_name: source_name.to_string(),
            reason,
        };
        let text = text.trim();
        if text.len() != 64 {
            return Err(bad(format!(
                "expected 64 hex characters (32 bytes), found {} characters",
                text.chars().count()
            )));
        }
        let bytes = hex::decode(text).map_err(|e| bad(format!("not hex: {e}")))?;
        let mut key = [0u8; 32];
        key.copy_from_slice(&bytes);
        Ok(MasterKey(key))
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The key for `workspace`: `EARSHOT_MASTER_KEY` when set, else `workspace/master.key`.
    pub fn load(workspace: &Path) -> Result<MasterKey, VaultError> {
        Self::load_from(workspace, std::env::var(MASTER_KEY_ENV).ok().as_deref())
    }

    /// Like [`MasterKey::load`] with the environment's value passed in (tests).
    pub fn load_from(workspace: &Path, env_value: Option<&str>) -> Result<MasterKey, VaultError> {
        if let Some(value) = env_value.filter(|v| !v.trim().is_empty()) {
            return MasterKey::from_hex(value, MASTER_KEY_ENV);
        }
        let path = workspace.join(MASTER_KEY_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(VaultError::NoKey(path))
            }
            Err(error) => {
                return Err(VaultError::Io {
                    action: "reading",
                    path,
                    error,
                })
            }
        };
        check_private(&path)?;
        MasterKey::from_hex(&text, &path.display().to_string())
    }

    /// Create `workspace/master.key` with a new key, readable by the owner only. Returns
    /// `Ok(false)` and leaves the file alone when it already exists.
    pub fn create_file(workspace: &Path) -> Result<bool, VaultError> {
        let path = workspace.join(MASTER_KEY_FILE);
        let key = MasterKey::generate();
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = match options.open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(false),
            Err(error) => {
                return Err(VaultError::Io {
                    action: "creating",
                    path,
                    error,
                })
            }
        };
        writeln!(file, "{}", key.to_hex())
            .and_then(|_| file.sync_all())
            .map_err(|error| VaultError::Io {
                action: "writing",
                path: path.clone(),
                error,
            })?;
        Ok(true)
    }

    /// Replace `workspace/master.key` with `key` (rotation), atomically and with mode 0600.
    pub fn write_file(&self, workspace: &Path) -> Result<(), VaultError> {
        let path = workspace.join(MASTER_KEY_FILE);
        let staging = workspace.join(format!("{MASTER_KEY_FILE}.new"));
        let _ = std::fs::remove_file(&staging);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let io = |action: &'static str, path: &Path| {
            let path = path.to_path_buf();
            move |error| VaultError::Io {
                action,
                path,
                error,
            }
        };
        let mut file = options.open(&staging).map_err(io("creating", &staging))?;
        writeln!(file, "{}", self.to_hex())
            .and_then(|_| file.sync_all())
            .map_err(io("writing", &staging))?;
        std::fs::rename(&staging, &path).map_err(io("replacing", &path))?;
        Ok(())
    }
}

/// A key file others can read is refused: the key would protect nothing.
fn check_private(path: &Path) -> Result<(), VaultError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(|error| VaultError::Io {
                action: "inspecting",
                path: path.to_path_buf(),
                error,
            })?
            .permissions()
            .mode()
            & 0o777;
        if mode & 0o077 != 0 {
            return Err(VaultError::KeyFileTooOpen {
                path: path.to_path_buf(),
                mode,
            });
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Seals and opens records under one master key.
#[derive(Clone)]
pub struct Vault {
    cipher: XChaCha20Poly1305,
}

impl fmt::Debug for Vault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Vault(..)")
    }
}

impl Vault {
    pub fn new(key: &MasterKey) -> Vault {
        Vault {
            cipher: XChaCha20Poly1305::new((&key.0).into()),
        }
    }

    /// Encrypt `plaintext` bound to `identity` (the associated data: who the record belongs to).
    pub fn seal(&self, identity: &str, plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ciphertext = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: identity.as_bytes(),
                },
            )
            // Encryption fails only for messages beyond 256 GiB, which credentials are not.
            .expect("XChaCha20-Poly1305 encrypts any message below 256 GiB");
        let mut sealed = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        sealed.push(FORMAT_VERSION);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        sealed
    }

    /// Decrypt a record sealed for `identity`. A wrong key, a changed byte or another
    /// identity all fail the same way, with an error naming `identity`.
    pub fn open(&self, identity: &str, sealed: &[u8]) -> Result<Vec<u8>, VaultError> {
        let malformed = |reason: &str| VaultError::Malformed {
            identity: identity.to_string(),
            reason: reason.to_string(),
        };
        let (&version, rest) = sealed.split_first().ok_or_else(|| malformed("empty"))?;
        if version != FORMAT_VERSION {
            return Err(malformed(&format!("unknown format version {version}")));
        }
        if rest.len() < NONCE_LEN + TAG_LEN {
            return Err(malformed("too short"));
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        self.cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: identity.as_bytes(),
                },
            )
            .map_err(|_| VaultError::CannotOpen {
                identity: identity.to_string(),
            })
    }
}
