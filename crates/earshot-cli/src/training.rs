//! `earshot model train | eval | list`.
//!
//! Data folders hold `train.jsonl` and `test*.jsonl` files of `{"text", "label", "lang"}` lines
//! (the format of `../shared/data`). Training uses the analysis crate's options for the task and
//! language (`TrainOptions::for_task`), with `--idf-corpus` and `--nb-search` as
//! `scripts/train-models.sh` gives them to the `train_eval` example: the CLI reproduces the
//! shipped models byte for byte (docs/MODELS.md).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use earshot_analysis::{
    corpus_idf, evaluate, read_examples, train_examples, Analysis, Example, FeatureExtractor,
    Model, Report, SparseVector, Task, TrainOptions, TrainSummary,
};
use earshot_store::Store;

use crate::models::{self, WORKSPACE_MODELS_DIR};
use crate::workspace::Workspace;

/// One correction in this many (by mention id) is held out to measure the effect of the
/// corrections, and not learned from.
const HELD_OUT_EVERY: i64 = 5;

pub struct TrainRequest {
    pub task: String,
    pub data: Vec<PathBuf>,
    pub out: Option<PathBuf>,
    pub with_corrections: bool,
    /// Data folders whose training texts give the IDF table (empty: the model's own texts).
    pub idf_corpus: Vec<PathBuf>,
    /// NB factors compete in the search.
    pub nb_search: bool,
}

fn train_file(dir: &Path) -> Result<PathBuf> {
    let path = dir.join("train.jsonl");
    if !path.is_file() {
        bail!(
            "{} not found: a data folder holds train.jsonl (and test.jsonl) of {{\"text\", \"label\", \"lang\"}} lines",
            path.display()
        );
    }
    Ok(path)
}

/// The test sets of a data folder: every `test*.jsonl` in it, or the file itself.
fn test_files(data: &Path) -> Result<Vec<PathBuf>> {
    if data.is_file() {
        return Ok(vec![data.to_path_buf()]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(data)
        .with_context(|| format!("cannot read the data folder {}", data.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| {
            path.is_file()
                && path.extension().is_some_and(|e| e == "jsonl")
                && path
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("test"))
        })
        .collect();
    files.sort();
    Ok(files)
}

fn read_all(path: &Path) -> Result<Vec<Example>> {
    let dataset = read_examples(path)?;
    for skipped in &dataset.skipped {
        eprintln!("skipped {skipped}");
    }
    Ok(dataset.examples)
}

fn print_summary(summary: &TrainSummary, model: &Model) {
    println!(
        "trained {} ({}): {} examples ({}), {} epochs, labels {}",
        model.task(),
        model.lang().unwrap_or("any language"),
        summary.examples,
        summary.judged_by(),
        summary.epochs,
        model.labels().join(", ")
    );
    let chosen = [
        summary.c.map(|c| format!("C {c}")),
        Some(format!("{:?} class weights", summary.class_weights).to_lowercase()),
        summary.idf.then(|| "IDF".to_owned()),
        summary.nb.then(|| "NB factors".to_owned()),
        summary
            .validation_macro_f1
            .map(|f1| format!("{} macro-F1 {f1:.4}", summary.judged_by())),
    ];
    println!(
        "chosen: {}",
        chosen.into_iter().flatten().collect::<Vec<_>>().join(", ")
    );
}

/// Measures `model` on examples in memory, as `evaluate` does on a file.
pub fn evaluate_examples(model: &Model, examples: &[Example]) -> Report {
    let task = Task::from_name(model.task());
    let mut extractor = FeatureExtractor::new(model.feature_config());
    let mut features = SparseVector::default();
    let mut probabilities = Vec::new();
    let mut gold = Vec::new();
    let mut predicted = Vec::new();
    let mut skipped = 0;
    for example in examples {
        let Some(class) = task
            .map_label(&example.label)
            .and_then(|label| model.class_of_label(label))
        else {
            skipped += 1;
            continue;
        };
        extractor.extract(&example.text, &mut features);
        model.predict_into(&features, &mut probabilities);
        gold.push(class);
        predicted.push(earshot_analysis::eval::argmax(&probabilities));
    }
    let mut report = Report::from_predictions(model.labels(), &gold, &predicted);
    report.skipped = skipped;
    report
}

/// The language most training examples declare: the model is written for it, so the analyzer
/// picks it for texts in that language (the shipped models are trained the same way).
fn dominant_language(examples: &[earshot_analysis::Example]) -> Option<String> {
    let mut counts: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for example in examples {
        if let Some(lang) = example.lang.as_deref() {
            *counts.entry(lang).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
        .map(|(lang, _)| lang.to_owned())
}

pub async fn train(workspace: &Workspace, request: TrainRequest) -> Result<()> {
    if request.data.is_empty() {
        bail!("--data needs at least one data folder");
    }
    let task = Task::from_name(&request.task);
    let mut examples = Vec::new();
    for dir in &request.data {
        examples.extend(read_all(&train_file(dir)?)?);
    }
    let mut options = TrainOptions::for_task(&task, dominant_language(&examples).as_deref());
    if request.nb_search {
        options.nb_search = true;
        options.nb_beta = 1.0;
    }
    if !request.idf_corpus.is_empty() {
        let mut texts = Vec::new();
        for dir in &request.idf_corpus {
            texts.extend(read_all(&train_file(dir)?)?.into_iter().map(|e| e.text));
        }
        if texts.is_empty() {
            bail!(
                "--idf-corpus {}: no readable training text, so no IDF table to weight by",
                display_list(&request.idf_corpus)
            );
        }
        println!(
            "IDF table over {} texts of {} training sets",
            texts.len(),
            request.idf_corpus.len()
        );
        options.idf_table = Some(Arc::new(corpus_idf(
            texts.iter().map(String::as_str),
            options.features,
        )));
    }
    let mut tests = Vec::new();
    for dir in &request.data {
        for path in test_files(dir)? {
            tests.push((path.clone(), read_all(&path)?));
        }
    }
    let (model, summary) = train_examples(&task, &examples, &options)
        .with_context(|| format!("training {} failed", task.name()))?;
    print_summary(&summary, &model);

    let model = if request.with_corrections {
        let store = workspace.open_store().await?;
        fold_in_corrections(store.as_ref(), &task, &options, model, examples, &tests).await?
    } else {
        for (path, test) in &tests {
            println!("test set {}", path.display());
            print!("{}", evaluate_examples(&model, test).to_text());
        }
        model
    };

    let out = match request.out {
        Some(out) => out,
        None => workspace.dir.join(WORKSPACE_MODELS_DIR).join(format!(
            "{}-{}.esm",
            model.task(),
            model.lang().unwrap_or("any")
        )),
    };
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    model.save(&out)?;
    println!(
        "saved {} ({} bytes){}",
        out.display(),
        std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0),
        if out.starts_with(workspace.dir.join(WORKSPACE_MODELS_DIR)) {
            "; the workspace uses it instead of a built-in model of the same task and language"
        } else {
            ""
        }
    );
    Ok(())
}

/// Trains again with the workspace's corrections of `task` (in the model's language) and
/// reports macro-F1 before and after on the test sets plus the held-out corrections. Returns
/// the model trained with the corrections.
async fn fold_in_corrections(
    store: &dyn Store,
    task: &Task,
    options: &TrainOptions,
    before: Model,
    mut examples: Vec<Example>,
    tests: &[(PathBuf, Vec<Example>)],
) -> Result<Model> {
    let corrections = store.corrections().await?;
    let mut learned = Vec::new();
    let mut held_out = Vec::new();
    for record in &corrections {
        let Some((correction_task, label)) = record.training_label() else {
            continue;
        };
        // A mention whose language could not be named was analysed by the models of its
        // script's language (docs/MODELS.md, round 14), so its correction teaches those.
        let lang = if record.lang == earshot_text::lang::UNDETERMINED {
            earshot_text::lang::script_language(&record.text)
        } else {
            record.lang.as_str()
        };
        if correction_task != task.name() || before.lang().is_some_and(|l| l != lang) {
            continue;
        }
        let example = Example {
            id: format!("correction-{}", record.mention_id),
            text: record.text.clone(),
            label: label.to_owned(),
            lang: Some(lang.to_owned()),
        };
        if record.mention_id.0 % HELD_OUT_EVERY == 0 {
            held_out.push(example);
        } else {
            learned.push(example);
        }
    }
    println!(
        "corrections of {} ({}): {} learned from, {} held out for measuring",
        task.name(),
        before.lang().unwrap_or("any language"),
        learned.len(),
        held_out.len()
    );
    if learned.is_empty() {
        println!("no corrections to learn from: the model is trained on the data only");
        for (path, test) in tests {
            println!("test set {}", path.display());
            print!("{}", evaluate_examples(&before, test).to_text());
        }
        return Ok(before);
    }
    examples.extend(learned);
    let (after, summary) = train_examples(task, &examples, options)
        .map_err(|e| anyhow!("training {} with corrections failed: {e}", task.name()))?;
    print_summary(&summary, &after);

    let mut measured: Vec<(String, Vec<Example>)> = tests
        .iter()
        .map(|(path, test)| (path.display().to_string(), test.clone()))
        .collect();
    if !held_out.is_empty() {
        measured.push(("held-out corrections".to_owned(), held_out.clone()));
    }
    let combined: Vec<Example> = measured.iter().flat_map(|(_, e)| e.clone()).collect();
    measured.push(("test sets + held-out corrections".to_owned(), combined));
    println!("macro-F1 before → after folding in the corrections:");
    for (name, set) in &measured {
        let before_report = evaluate_examples(&before, set);
        let after_report = evaluate_examples(&after, set);
        println!(
            "  {name}: {:.4} → {:.4} ({} examples)",
            before_report.macro_f1, after_report.macro_f1, after_report.examples
        );
    }
    Ok(after)
}

pub fn eval(
    workspace: &Workspace,
    task: &str,
    data: &[PathBuf],
    model: Option<&Path>,
    predictions: Option<&Path>,
) -> Result<()> {
    let mut predictions_out = open_predictions(predictions)?;
    let sets = test_sets(data)?;
    let explicit = model
        .map(|path| Model::load(path).map(|m| (m, path.display().to_string())))
        .transpose()?;
    for path in &sets {
        let (model, name) = match &explicit {
            Some((model, name)) => (model.clone(), name.clone()),
            None => {
                let lang = read_examples(path)?
                    .examples
                    .iter()
                    .find_map(|e| e.lang.clone());
                model_in_use(workspace, task, lang.as_deref())?
            }
        };
        if model.task() != task {
            bail!("{name} is a {} model, not {task}", model.task());
        }
        let report = evaluate(&model, path)?;
        println!("test set {} (model {name})", path.display());
        print!("{}", report.to_text());
        if let Some(out) = predictions_out.as_mut() {
            write_predictions(&model, path, out)?;
        }
    }
    close_predictions(predictions_out, predictions)
}

/// Measures what `earshot analyze` reports for `task` on the test sets of `data`: the models in
/// use with the cue rules and the language check, each text given its `lang` as a line of
/// `earshot analyze` would. The analysis's label for the task is the prediction (for
/// `complaint`, whether the `complaint` intent is reported).
pub fn eval_analyzer(
    workspace: &Workspace,
    task: &str,
    data: &[PathBuf],
    predictions: Option<&Path>,
) -> Result<()> {
    let task = Task::from_name(task);
    let Some(labels) = task.labels() else {
        bail!(
            "the analysis reports sentiment, offensive, spam and complaint, not {}",
            task.name()
        );
    };
    let labels: Vec<String> = labels.iter().map(|l| l.to_string()).collect();
    let mut predictions_out = open_predictions(predictions)?;
    let sets = test_sets(data)?;
    let analyzer = models::load_for_analysis(Some(&workspace.dir))?;
    let mut scratch = analyzer.scratch();
    let nothing_to_flag = labels
        .iter()
        .position(|l| Some(l.as_str()) == earshot_analysis::analyzer::default_label(task.name()))
        .unwrap_or(0);
    for path in &sets {
        let dataset = read_examples(path)?;
        for line in &dataset.skipped {
            eprintln!("skipped {line}");
        }
        // Unreadable lines and labels the task does not know, as `earshot model eval` counts them.
        let mut skipped = dataset.skipped.len() as u64;
        let (mut gold, mut predicted) = (Vec::new(), Vec::new());
        let mut unlabelled = std::collections::BTreeMap::<String, usize>::new();
        for example in &dataset.examples {
            let Some(gold_class) = task
                .map_label(&example.label)
                .and_then(|label| labels.iter().position(|l| l == label))
            else {
                skipped += 1;
                continue;
            };
            let analysis =
                analyzer.analyze_with(&mut scratch, &example.text, example.lang.as_deref(), &[]);
            // No label (the text was found to be in a language without a model for the task)
            // reads as the label of a text with nothing to flag, as a reader of the inbox sees it.
            let (label, score) = analysis_label(&analysis, &task).unwrap_or_else(|| {
                *unlabelled.entry(analysis.lang.to_string()).or_insert(0) += 1;
                (labels[nothing_to_flag].clone(), 0.0)
            });
            let class = labels.iter().position(|l| *l == label).with_context(|| {
                format!("the analysis said {label:?}, not a {} label", task.name())
            })?;
            gold.push(gold_class);
            predicted.push(class);
            if let Some(out) = predictions_out.as_mut() {
                let record = serde_json::json!({
                    "set": path.display().to_string(),
                    "id": example.id,
                    "gold": labels[gold_class],
                    "predicted": label,
                    "score": score,
                });
                writeln!(out, "{record}").context("cannot write a prediction")?;
            }
        }
        let mut report = Report::from_predictions(&labels, &gold, &predicted);
        report.skipped = skipped;
        println!("test set {} (the whole analysis)", path.display());
        if !unlabelled.is_empty() {
            let languages: Vec<String> = unlabelled
                .iter()
                .map(|(lang, count)| format!("{lang} {count}"))
                .collect();
            println!(
                "{} texts got no {} (taken for languages without a model: {}), counted as {}",
                unlabelled.values().sum::<usize>(),
                task.name(),
                languages.join(", "),
                labels[nothing_to_flag]
            );
        }
        print!("{}", report.to_text());
    }
    close_predictions(predictions_out, predictions)
}

/// The label and score the analysis gives `task`, where it reports one.
fn analysis_label(analysis: &Analysis, task: &Task) -> Option<(String, f32)> {
    let scored = match task {
        Task::Sentiment => analysis.sentiment.as_ref(),
        Task::Offensive => analysis.offensive.as_ref(),
        Task::Spam => analysis.spam.as_ref(),
        Task::Complaint => {
            let complaint = analysis.intents.iter().find(|i| &*i.label == "complaint");
            return Some(match complaint {
                Some(intent) => ("complaint".to_owned(), intent.score),
                None => ("other".to_owned(), 0.0),
            });
        }
        Task::Custom(_) => None,
    };
    scored.map(|s| (s.label.to_string(), s.score))
}

fn open_predictions(path: Option<&Path>) -> Result<Option<std::io::BufWriter<std::fs::File>>> {
    path.map(|path| {
        std::fs::File::create(path)
            .map(std::io::BufWriter::new)
            .with_context(|| format!("cannot write the predictions to {}", path.display()))
    })
    .transpose()
}

fn close_predictions(
    out: Option<std::io::BufWriter<std::fs::File>>,
    path: Option<&Path>,
) -> Result<()> {
    if let (Some(mut out), Some(path)) = (out, path) {
        out.flush()
            .with_context(|| format!("cannot write the predictions to {}", path.display()))?;
        println!("predictions written to {}", path.display());
    }
    Ok(())
}

/// Every test file of the data folders (or the files themselves), refusing none at all.
fn test_sets(data: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let sets: Vec<PathBuf> = data
        .iter()
        .map(|d| test_files(d))
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .flatten()
        .collect();
    if sets.is_empty() {
        bail!("no test set (test*.jsonl) in {}", display_list(data));
    }
    Ok(sets)
}

/// One line per example of the test set at `path` whose label the model knows, in file order:
/// the set, the example's id, its gold and predicted label, and the predicted label's
/// probability.
fn write_predictions(model: &Model, path: &Path, out: &mut impl Write) -> Result<()> {
    let task = Task::from_name(model.task());
    let mut extractor = FeatureExtractor::new(model.feature_config());
    let mut features = SparseVector::default();
    let mut probabilities = Vec::new();
    let dataset = read_examples(path)?;
    for example in &dataset.examples {
        let Some(gold) = task
            .map_label(&example.label)
            .filter(|label| model.class_of_label(label).is_some())
        else {
            continue;
        };
        extractor.extract(&example.text, &mut features);
        model.predict_into(&features, &mut probabilities);
        let class = earshot_analysis::eval::argmax(&probabilities);
        let record = serde_json::json!({
            "set": path.display().to_string(),
            "id": example.id,
            "gold": gold,
            "predicted": model.labels()[class],
            "score": probabilities[class],
        });
        writeln!(out, "{record}").context("cannot write a prediction")?;
    }
    Ok(())
}

fn display_list(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The model `earshot` would use for `task` in `lang`: the workspace's, else the built-in one.
fn model_in_use(workspace: &Workspace, task: &str, lang: Option<&str>) -> Result<(Model, String)> {
    let candidates = models::collect(Some(&workspace.dir))?;
    let of_task = || candidates.iter().filter(|(m, _)| m.task() == task);
    of_task()
        .find(|(m, _)| m.lang().is_some() && m.lang() == lang)
        .or_else(|| of_task().find(|(m, _)| m.lang().is_none()))
        .map(|(model, info)| {
            (
                model.clone(),
                format!("{} ({})", info.name, info.source.as_str()),
            )
        })
        .ok_or_else(|| {
            anyhow!(
                "no {task} model for {} is built in or in {}: pass --model FILE",
                lang.unwrap_or("this language"),
                workspace.dir.join(WORKSPACE_MODELS_DIR).display()
            )
        })
}

pub fn list(workspace: &Workspace) -> Result<()> {
    let loaded = models::load(Some(&workspace.dir))?;
    if loaded.models.is_empty() {
        println!(
            "No models: none built in and none in {}; intents come from rules only",
            workspace.dir.join(WORKSPACE_MODELS_DIR).display()
        );
        return Ok(());
    }
    println!("task\tlanguage\tlabels\tsource\tsize\tname");
    for info in &loaded.models {
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}",
            info.task,
            info.lang.as_deref().unwrap_or("any"),
            info.labels.join(","),
            info.source.as_str(),
            human_size(info.size),
            info.name
        );
    }
    Ok(())
}

fn human_size(bytes: usize) -> String {
    if bytes >= 1 << 20 {
        format!("{:.1} MB", bytes as f64 / (1 << 20) as f64)
    } else {
        format!("{:.1} KB", bytes as f64 / 1024.0)
    }
}
