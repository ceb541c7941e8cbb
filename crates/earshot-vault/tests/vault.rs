//! The vault on real files: round trips, wrong keys, tampering, moved records, key files.

use earshot_vault::{MasterKey, Vault, VaultError, MASTER_KEY_FILE};
use tempfile::TempDir;

const IDENTITY: &str = "account mastodon:@shop@social.example";

#[test]
fn a_sealed_record_opens_with_the_same_key_and_identity() {
    let vault = Vault::new(&MasterKey::generate());
    let sealed = vault.seal(IDENTITY, b"token-123");
    assert!(!sealed.windows(9).any(|w| w == b"token-123"));
    assert_eq!(vault.open(IDENTITY, &sealed).unwrap(), b"token-123");
    // A fresh nonce per seal: the same secret never seals to the same bytes.
    assert_ne!(vault.seal(IDENTITY, b"token-123"), sealed);
}

#[test]
fn a_wrong_key_is_a_clear_error_naming_the_record() {
    let sealed = Vault::new(&MasterKey::generate()).seal(IDENTITY, b"secret");
    let err = Vault::new(&MasterKey::generate())
        .open(IDENTITY, &sealed)
        .unwrap_err();
    assert!(matches!(err, VaultError::CannotOpen { .. }));
    let message = err.to_string();
    assert!(message.contains(IDENTITY), "{message}");
    assert!(message.contains("wrong master key"), "{message}");
}

#[test]
fn a_tampered_record_does_not_open() {
    let vault = Vault::new(&MasterKey::generate());
    let sealed = vault.seal(IDENTITY, b"secret");
    for index in [0, 1, 10, 30, sealed.len() - 1] {
        let mut altered = sealed.clone();
        altered[index] ^= 0x01;
        assert!(vault.open(IDENTITY, &altered).is_err(), "byte {index}");
    }
    assert!(matches!(
        vault.open(IDENTITY, &sealed[..20]),
        Err(VaultError::Malformed { .. })
    ));
    assert!(vault.open(IDENTITY, &[]).is_err());
}

#[test]
fn a_record_moved_to_another_account_does_not_open() {
    let vault = Vault::new(&MasterKey::generate());
    let sealed = vault.seal(IDENTITY, b"secret");
    let err = vault
        .open("account bluesky:shop.bsky.social", &sealed)
        .unwrap_err();
    assert!(matches!(err, VaultError::CannotOpen { .. }));
}

#[test]
fn init_creates_a_private_key_file_once_and_it_loads() {
    let dir = TempDir::new().unwrap();
    assert!(matches!(
        MasterKey::load_from(dir.path(), None),
        Err(VaultError::NoKey(_))
    ));
    assert!(MasterKey::create_file(dir.path()).unwrap());
    let first = MasterKey::load_from(dir.path(), None).unwrap();
    // A second init keeps the key: records sealed under it must stay readable.
    assert!(!MasterKey::create_file(dir.path()).unwrap());
    let again = MasterKey::load_from(dir.path(), None).unwrap();
    assert_eq!(first.to_hex(), again.to_hex());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(MASTER_KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[cfg(unix)]
#[test]
fn a_key_file_others_can_read_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new().unwrap();
    MasterKey::create_file(dir.path()).unwrap();
    let path = dir.path().join(MASTER_KEY_FILE);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = MasterKey::load_from(dir.path(), None).unwrap_err();
    assert!(matches!(
        err,
        VaultError::KeyFileTooOpen { mode: 0o644, .. }
    ));
    assert!(err.to_string().contains("chmod 600"), "{err}");
}

#[test]
fn the_environment_key_wins_and_bad_text_is_named() {
    let dir = TempDir::new().unwrap();
    MasterKey::create_file(dir.path()).unwrap();
    let hex = "ab".repeat(32);
    let key = MasterKey::load_from(dir.path(), Some(&hex)).unwrap();
    assert_eq!(key.to_hex(), hex);
    let short = MasterKey::load_from(dir.path(), Some("abcd")).unwrap_err();
    assert!(short.to_string().contains("EARSHOT_MASTER_KEY"), "{short}");
    assert!(short.to_string().contains("64 hex"), "{short}");
    let not_hex = MasterKey::load_from(dir.path(), Some(&"zz".repeat(32))).unwrap_err();
    assert!(not_hex.to_string().contains("not hex"), "{not_hex}");
}

#[test]
fn rotation_writes_a_new_private_key_file() {
    let dir = TempDir::new().unwrap();
    MasterKey::create_file(dir.path()).unwrap();
    let old = MasterKey::load_from(dir.path(), None).unwrap();
    let new = MasterKey::generate();
    new.write_file(dir.path()).unwrap();
    let loaded = MasterKey::load_from(dir.path(), None).unwrap();
    assert_eq!(loaded.to_hex(), new.to_hex());
    assert_ne!(loaded.to_hex(), old.to_hex());
}
