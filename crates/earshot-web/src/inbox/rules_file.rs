//! Writing the routing rules back into `earshot.toml` without disturbing the rest of it: the
//! other sections, their order, and every comment stay as they were (`toml_edit`); a rule
//! that did not change keeps its own comments too. The file is replaced in one rename, so a
//! crash leaves the old file or the new one, never half of either.

use std::path::{Path, PathBuf};

use earshot_core::{Config, RuleConfig};
use sha2::{Digest, Sha256};
use toml_edit::{ArrayOfTables, DocumentMut, Item, Table};

/// What went wrong reading or writing the file, naming it.
#[derive(Debug, thiserror::Error)]
pub enum RulesFileError {
    #[error("cannot read {path}: {error}")]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("cannot write {path}: {error}")]
    Write {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path} is not valid TOML: {error}")]
    Syntax { path: PathBuf, error: String },
    #[error("{path} does not load as an Earshot configuration: {error}")]
    Config { path: PathBuf, error: String },
}

pub fn config_path(workspace: &Path) -> PathBuf {
    workspace.join("earshot.toml")
}

/// The file's text; a workspace without one reads as empty (every section at its default).
pub fn read(path: &Path) -> Result<String, RulesFileError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(error) => Err(RulesFileError::Read {
            path: path.to_path_buf(),
            error,
        }),
    }
}

/// A short fingerprint of the file's exact text: a form carries the one it was made from, and
/// a save from a form whose fingerprint no longer matches is refused (someone else changed
/// the file in between).
pub fn version(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    hex::encode(&digest[..12])
}

pub fn parse_config(path: &Path, text: &str) -> Result<Config, RulesFileError> {
    toml::from_str(text).map_err(|error| RulesFileError::Config {
        path: path.to_path_buf(),
        error: error.to_string(),
    })
}

/// `text` with its `[[routing.rule]]` tables replaced by `rules`, in order. Rules equal to one
/// already in the file reuse that table as written (comments, layout); new or changed ones
/// are written fresh, their `when` and `then` as inline tables. No rules removes the list
/// (the workspace is back on the default rules).
pub fn replace_rules(
    path: &Path,
    text: &str,
    rules: &[RuleConfig],
) -> Result<String, RulesFileError> {
    let mut document: DocumentMut =
        text.parse()
            .map_err(|error: toml_edit::TomlError| RulesFileError::Syntax {
                path: path.to_path_buf(),
                error: error.to_string(),
            })?;
    let current = parse_config(path, text)?.routing.rules;
    let mut existing: Vec<Option<Table>> = match document
        .get("routing")
        .and_then(|routing| routing.get("rule"))
        .and_then(Item::as_array_of_tables)
    {
        // Only when the tables and the parsed rules line up one to one can a table stand for
        // its rule.
        Some(tables) if tables.len() == current.len() => tables.iter().cloned().map(Some).collect(),
        _ => Vec::new(),
    };
    // Where the rules stood in the file: the document is printed in the order of its tables'
    // positions, so every rule table (kept, moved or new) takes the first one's, and the
    // stable sort keeps them in list order there.
    let first_position = existing
        .iter()
        .filter_map(|t| t.as_ref().and_then(Table::position))
        .min();
    let mut list = ArrayOfTables::new();
    for rule in rules {
        let kept = current
            .iter()
            .enumerate()
            .find(|(i, old)| *old == rule && existing.get(*i).is_some_and(Option::is_some))
            .map(|(i, _)| i)
            .and_then(|i| existing[i].take());
        let mut table = match kept {
            Some(table) => table,
            None => rule_table(path, rule)?,
        };
        if let Some(position) = first_position {
            place(&mut table, position);
        }
        list.push(table);
    }
    if !document.contains_key("routing") {
        let mut routing = Table::new();
        routing.set_implicit(true);
        document.insert("routing", Item::Table(routing));
    }
    let Some(routing) = document
        .get_mut("routing")
        .and_then(Item::as_table_like_mut)
    else {
        return Err(RulesFileError::Config {
            path: path.to_path_buf(),
            error: "`routing` must be a table ([routing] or [[routing.rule]])".into(),
        });
    };
    if rules.is_empty() {
        routing.remove("rule");
    } else {
        routing.insert("rule", Item::ArrayOfTables(list));
    }
    if routing.is_empty() {
        document.remove("routing");
    }
    Ok(document.to_string())
}

/// Put a table and the tables nested in it at one document position.
fn place(table: &mut Table, position: usize) {
    table.set_position(position);
    for (_, item) in table.iter_mut() {
        if let Item::Table(nested) = item {
            place(nested, position);
        }
    }
}

/// One rule as a fresh table: `name`, then `when` and `then` inline, as docs/INBOX.md writes
/// them.
fn rule_table(path: &Path, rule: &RuleConfig) -> Result<Table, RulesFileError> {
    let text = toml::to_string(rule).map_err(|error| RulesFileError::Config {
        path: path.to_path_buf(),
        error: format!("rule {:?} cannot be written: {error}", rule.name),
    })?;
    let parsed: DocumentMut =
        text.parse()
            .map_err(|error: toml_edit::TomlError| RulesFileError::Syntax {
                path: path.to_path_buf(),
                error: error.to_string(),
            })?;
    let mut table = Table::new();
    for (key, item) in parsed.as_table().iter() {
        let item = match item {
            Item::Table(inner) => Item::Value(toml_edit::Value::InlineTable(
                inner.clone().into_inline_table(),
            )),
            other => other.clone(),
        };
        table.insert(key, item);
    }
    // `when` and `then` always appear, even empty, so the rule reads the same in the file.
    for key in ["when", "then"] {
        if !table.contains_key(key) {
            table.insert(
                key,
                Item::Value(toml_edit::Value::InlineTable(toml_edit::InlineTable::new())),
            );
        }
    }
    Ok(table)
}

/// Replace the file in one step: write a sibling temporary file, flush it to disk, rename.
pub fn write_atomically(path: &Path, text: &str) -> Result<(), RulesFileError> {
    use std::io::Write;
    let failed = |error| RulesFileError::Write {
        path: path.to_path_buf(),
        error,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "earshot.toml".into());
    let temp = dir.join(format!(".{name}.{}.tmp", super::new_form_key()));
    let result = (|| {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result.map_err(failed)
}

#[cfg(test)]
mod tests {
    use earshot_core::{RuleActions, RuleConditions};

    use super::*;

    const FILE: &str = r#"# Earshot workspace configuration.
languages = ["en"]  # only English here

[[brand]]
name = "Zeltron"
queries = ["Zeltron"]

# Routing: keep angry influencers first!
[[routing.rule]]
# tags only
name = "influencers"
when = { min_followers = 10000 }
then = { tags = ["influencer"] }

[[routing.rule]]
name = "complaints"
when = { intents = ["complaint"] }
then = { team = "support" }

[sla.urgent]  # the promise
first_response = "30m"
resolution = "4h"
"#;

    fn path() -> PathBuf {
        PathBuf::from("/ws/earshot.toml")
    }

    fn rule(name: &str, keywords: &str, team: &str) -> RuleConfig {
        RuleConfig {
            name: name.into(),
            when: RuleConditions {
                keywords: Some(keywords.into()),
                ..RuleConditions::default()
            },
            then: RuleActions {
                team: Some(team.into()),
                ..RuleActions::default()
            },
        }
    }

    #[test]
    fn an_added_rule_keeps_the_comments_and_the_other_sections() {
        let before = parse_config(&path(), FILE).unwrap();
        let mut rules = before.routing.rules.clone();
        rules.insert(
            1,
            rule("refunds", "refund* OR \"double charge\"", "billing"),
        );
        let written = replace_rules(&path(), FILE, &rules).unwrap();
        for kept in [
            "# Earshot workspace configuration.",
            "# only English here",
            "# Routing: keep angry influencers first!",
            "# tags only",
            "[sla.urgent]  # the promise",
        ] {
            assert!(written.contains(kept), "lost {kept:?}:\n{written}");
        }
        let after = parse_config(&path(), &written).unwrap();
        assert_eq!(after.routing.rules, rules);
        assert_eq!(after.brands, before.brands);
        assert_eq!(after.sla, before.sla);
        assert_eq!(after.languages, before.languages);
        // The new rule reads as the docs write rules.
        assert!(
            written.contains("when = { keywords = 'refund* OR \"double charge\"' }"),
            "{written}"
        );
    }

    #[test]
    fn moving_and_deleting_rules_keeps_each_rules_comment_with_it() {
        let before = parse_config(&path(), FILE).unwrap();
        let mut rules = before.routing.rules.clone();
        rules.swap(0, 1);
        let moved = replace_rules(&path(), FILE, &rules).unwrap();
        let complaints = moved.find("name = \"complaints\"").unwrap();
        let comment = moved.find("# tags only").unwrap();
        let influencers = moved.find("name = \"influencers\"").unwrap();
        assert!(complaints < comment && comment < influencers, "{moved}");
        assert_eq!(parse_config(&path(), &moved).unwrap().routing.rules, rules);

        let none = replace_rules(&path(), &moved, &[]).unwrap();
        let config = parse_config(&path(), &none).unwrap();
        assert!(config.routing.rules.is_empty());
        assert!(!none.contains("routing"), "{none}");
        assert!(none.contains("# only English here"));
    }

    #[test]
    fn a_file_without_rules_gets_them() {
        let text = "languages = [\"en\"]\n";
        let rules = vec![rule("refunds", "refund*", "billing")];
        let written = replace_rules(&path(), text, &rules).unwrap();
        assert!(written.starts_with("languages = [\"en\"]\n"), "{written}");
        assert!(written.contains("[[routing.rule]]"), "{written}");
        assert!(!written.contains("[routing]\n"), "{written}");
        assert_eq!(
            parse_config(&path(), &written).unwrap().routing.rules,
            rules
        );
    }

    #[test]
    fn the_version_changes_with_any_edit() {
        assert_eq!(version(FILE), version(FILE));
        assert_ne!(version(FILE), version(&format!("{FILE}\n# hand edit\n")));
    }

    #[test]
    fn writing_replaces_the_file_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = config_path(dir.path());
        assert_eq!(read(&path).unwrap(), "");
        write_atomically(&path, FILE).unwrap();
        write_atomically(&path, "languages = []\n").unwrap();
        assert_eq!(read(&path).unwrap(), "languages = []\n");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("earshot.toml")]);
    }
}
