#!/usr/bin/env python3
"""Classical baselines for Earshot's analysis models (issue 3, "Quality").

For every dataset DIR/TASK/NAME/{train,test}.jsonl this trains, on train.jsonl only:
  (a) TF-IDF word 1-2 grams + character (char_wb) 2-5 grams, sublinear tf -> LogisticRegression
      (liblinear dual, one-vs-rest), C and class weighting chosen on a stratified 10 % of train, then refit
      on all of train;
  (b) fastText supervised (wordNgrams=2, thread=1, fixed seed), epoch and lr chosen on the same 10 %,
      then refit on all of train;
and prints accuracy, macro-F1, macro-averaged recall and weighted F1 on test.jsonl.

Russian 5-class sentiment sets (labels positive/negative/neutral/speech/skip) are reported twice:
5-class as labelled, and 3-class the way the Rust models map them (speech -> positive, skip dropped
from train and test). Each 3-class sentiment model is also evaluated on the test split of every other
sentiment dataset of its language (cross-domain).

Text preprocessing: lowercasing only. (fastText reads one example per line, so line breaks inside a
text become spaces; that changes no token.)

Run with the venv from bench/setup-venv.sh:  bench/.venv/bin/python bench/baselines.py [--data DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy
import sklearn
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, recall_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import FeatureUnion

SEED = 0
HELD_OUT_FRACTION = 0.10
RUSSIAN_FIVE_CLASS = {"positive", "negative", "neutral", "speech", "skip"}

# Grids are small on purpose: the whole run must fit in ~25 minutes on 2 shared cores.
TFIDF_C_GRID = (0.5, 2.0, 8.0, 32.0, 128.0)
TFIDF_CLASS_WEIGHTS = (None, "balanced")
FASTTEXT_EPOCH_GRID = (5, 15, 30)
FASTTEXT_LR_GRID = (0.1, 0.5, 1.0)
# fastText's own defaults otherwise (dim 100, 2M hash buckets for the bigrams, softmax loss).
# The tests shrink the buckets here: 2M x 100 floats is 800 MB to initialise per model.
FASTTEXT_OPTIONS: dict = {}


class DataError(Exception):
    """A dataset file that cannot be used at all (missing, empty after skipping bad lines)."""


@dataclass
class Split:
    texts: list[str]
    labels: list[str]


@dataclass
class Dataset:
    task: str
    name: str
    lang: str
    train: Split
    test: Split
    variant: str = ""  # "", "5-class" or "3-class"

    @property
    def key(self) -> str:
        return f"{self.task}/{self.name}"


@dataclass
class Scores:
    accuracy: float
    macro_f1: float
    macro_recall: float
    weighted_f1: float

    @staticmethod
    def of(gold: list[str], predicted: list[str]) -> "Scores":
        # Labels = union of gold and predicted (scikit-learn's default); a class never predicted
        # scores 0, as in earshot-analysis's eval.rs.
        return Scores(
            accuracy=accuracy_score(gold, predicted),
            macro_f1=f1_score(gold, predicted, average="macro", zero_division=0),
            macro_recall=recall_score(gold, predicted, average="macro", zero_division=0),
            weighted_f1=f1_score(gold, predicted, average="weighted", zero_division=0),
        )


@dataclass
class Result:
    dataset: Dataset
    model: str
    chosen: str
    train_seconds: float
    scores: Scores
    cross_domain: list[tuple[str, Scores]] = field(default_factory=list)
    # The test split's gold and predicted labels, in file order (for --predictions).
    gold: list[str] = field(default_factory=list)
    predicted: list[str] = field(default_factory=list)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def read_jsonl(path: Path) -> Split:
    """Reads {"text", "label"} lines; a bad line is reported with its number and skipped."""
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    texts, labels = [], []
    with path.open(encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                text, label = record["text"], record["label"]
                if not isinstance(text, str) or not isinstance(label, str) or not label.strip():
                    raise ValueError("`text` and `label` must be strings, `label` not empty")
            except (ValueError, KeyError, TypeError) as error:
                log(f"warning: {path}:{number}: skipped: {error}")
                continue
            texts.append(text.lower())
            labels.append(label)
    if not texts:
        raise DataError(f"{path}: no usable example")
    return Split(texts, labels)


def dataset_language(path: Path, name: str) -> str:
    with path.open(encoding="utf-8", errors="replace") as lines:
        for line in lines:
            try:
                lang = json.loads(line).get("lang")
            except (ValueError, AttributeError):
                continue
            if isinstance(lang, str) and lang:
                return lang
    return name.split("-", 1)[0]


def discover(data_dir: Path, only: list[str]) -> list[Dataset]:
    datasets = []
    for train_path in sorted(data_dir.glob("*/*/train.jsonl")):
        folder = train_path.parent
        task, name = folder.parent.name, folder.name
        if only and not any(pattern in f"{task}/{name}" for pattern in only):
            continue
        try:
            train = read_jsonl(train_path)
            test = read_jsonl(folder / "test.jsonl")
        except DataError as error:
            log(f"error: {error}; dataset {task}/{name} skipped")
            continue
        datasets.append(Dataset(task, name, dataset_language(train_path, name), train, test))
    return datasets


def to_three_class(split: Split) -> Split:
    """Our Rust models' mapping: speech (greetings, thanks) -> positive; skip (unclear) dropped."""
    kept = [
        (text, "positive" if label == "speech" else label)
        for text, label in zip(split.texts, split.labels)
        if label != "skip"
    ]
    return Split([text for text, _ in kept], [label for _, label in kept])


def variants(dataset: Dataset) -> list[Dataset]:
    """The 5-class Russian sets are evaluated both as labelled and mapped to 3 classes."""
    if dataset.task == "sentiment" and set(dataset.train.labels) == RUSSIAN_FIVE_CLASS:
        five = Dataset(**{**dataset.__dict__, "variant": "5-class"})
        three = Dataset(
            **{
                **dataset.__dict__,
                "train": to_three_class(dataset.train),
                "test": to_three_class(dataset.test),
                "variant": "3-class",
            }
        )
        return [five, three]
    return [dataset]


def sentiment_three_class_view(dataset: Dataset) -> Dataset:
    return variants(dataset)[-1]


def held_out_split(split: Split) -> tuple[Split, Split]:
    counts: dict[str, int] = {}
    for label in split.labels:
        counts[label] = counts.get(label, 0) + 1
    stratify = split.labels if min(counts.values()) >= 2 else None
    train_texts, valid_texts, train_labels, valid_labels = train_test_split(
        split.texts,
        split.labels,
        test_size=HELD_OUT_FRACTION,
        random_state=SEED,
        stratify=stratify,
    )
    return Split(train_texts, train_labels), Split(valid_texts, valid_labels)


# ---------------------------------------------------------------------------------------------
# (a) TF-IDF + logistic regression


def tfidf_features() -> FeatureUnion:
    return FeatureUnion(
        [
            (
                "words",
                TfidfVectorizer(
                    analyzer="word",
                    ngram_range=(1, 2),
                    # \w+ keeps one-letter words (Russian "я", "не" matter for sentiment).
                    token_pattern=r"(?u)\b\w+\b",
                    sublinear_tf=True,
                    lowercase=False,
                    dtype=np.float32,
                ),
            ),
            (
                "chars",
                TfidfVectorizer(
                    analyzer="char_wb",
                    ngram_range=(2, 5),
                    sublinear_tf=True,
                    lowercase=False,
                    dtype=np.float32,
                ),
            ),
        ]
    )


def logistic_regression(c: float, class_weight: str | None) -> LogisticRegression:
    # liblinear is exact and single-threaded; for several classes it trains one-vs-rest. The dual
    # problem is the faster one with far more features than examples (5x on en-semeval2017).
    return LogisticRegression(
        solver="liblinear", dual=True, C=c, class_weight=class_weight, max_iter=1000, random_state=SEED
    )


class TfidfLogisticRegression:
    name = "tfidf-lr"

    def __init__(self) -> None:
        self.features: FeatureUnion | None = None
        self.classifier: LogisticRegression | None = None

    def fit(self, train: Split) -> str:
        fit_part, held_out = held_out_split(train)
        features = tfidf_features()
        fit_matrix = features.fit_transform(fit_part.texts)
        held_out_matrix = features.transform(held_out.texts)
        best = None
        for class_weight in TFIDF_CLASS_WEIGHTS:
            best_for_weight = -1.0
            # The held-out score is close to unimodal in C, and a larger C costs more iterations
            # (minutes on en-semeval2017), so the climb stops at the first C that scores lower.
            for c in TFIDF_C_GRID:
                classifier = logistic_regression(c, class_weight).fit(fit_matrix, fit_part.labels)
                predicted = list(classifier.predict(held_out_matrix))
                score = f1_score(held_out.labels, predicted, average="macro", zero_division=0)
                if best is None or score > best[0]:
                    best = (score, c, class_weight)
                if score < best_for_weight:
                    break
                best_for_weight = score
        _, c, class_weight = best
        self.features = tfidf_features()
        matrix = self.features.fit_transform(train.texts)
        self.classifier = logistic_regression(c, class_weight).fit(matrix, train.labels)
        return f"C={c:g} class_weight={class_weight or 'none'} (held-out macro-F1 {best[0]:.3f})"

    def predict(self, texts: list[str]) -> list[str]:
        return list(self.classifier.predict(self.features.transform(texts)))


# ---------------------------------------------------------------------------------------------
# (b) fastText


def fasttext_line(text: str) -> str:
    return " ".join(text.split())


def fasttext_label(label: str) -> str:
    return "__label__" + "_".join(label.split())


def train_fasttext(split: Split, epoch: int, lr: float):
    import fasttext

    # fastText trains from a file only.
    with tempfile.NamedTemporaryFile("w", suffix=".txt", encoding="utf-8", delete=False) as file:
        for text, label in zip(split.texts, split.labels):
            file.write(f"{fasttext_label(label)} {fasttext_line(text)}\n")
        path = file.name
    try:
        return fasttext.train_supervised(
            input=path, epoch=epoch, lr=lr, wordNgrams=2, thread=1, seed=SEED, verbose=0,
            **FASTTEXT_OPTIONS,
        )
    finally:
        os.unlink(path)


def fasttext_predict(model, texts: list[str], label_of: dict[str, str]) -> list[str]:
    labels, _ = model.predict([fasttext_line(text) for text in texts], k=1)
    return [label_of[predicted[0]] for predicted in labels]


class FastText:
    name = "fasttext"

    def __init__(self) -> None:
        self.model = None
        self.label_of: dict[str, str] = {}

    def fit(self, train: Split) -> str:
        self.label_of = {fasttext_label(label): label for label in set(train.labels)}
        fit_part, held_out = held_out_split(train)
        best = None
        for epoch in FASTTEXT_EPOCH_GRID:
            for lr in FASTTEXT_LR_GRID:
                model = train_fasttext(fit_part, epoch, lr)
                predicted = fasttext_predict(model, held_out.texts, self.label_of)
                score = f1_score(held_out.labels, predicted, average="macro", zero_division=0)
                if best is None or score > best[0]:
                    best = (score, epoch, lr)
        _, epoch, lr = best
        self.model = train_fasttext(train, epoch, lr)
        return f"epoch={epoch} lr={lr:g} (held-out macro-F1 {best[0]:.3f})"

    def predict(self, texts: list[str]) -> list[str]:
        return fasttext_predict(self.model, texts, self.label_of)


MODELS = {"tfidf-lr": TfidfLogisticRegression, "fasttext": FastText}


# ---------------------------------------------------------------------------------------------
# Driver


def cross_test_set(folder: Path) -> Dataset:
    """A sentiment test set without a training split (FOLDER/test.jsonl), scored as one more
    cross-domain target of every sentiment model of its language (--cross-test)."""
    test_path = folder / "test.jsonl"
    test = read_jsonl(test_path)
    name = folder.name
    return Dataset("sentiment", name, dataset_language(test_path, name), Split([], []), test)


def run(
    datasets: list[Dataset],
    model_names: list[str],
    on_result=lambda results: None,
    cross_tests: list[Dataset] = (),
) -> list[Result]:
    sentiment_by_language: dict[str, list[Dataset]] = {}
    for dataset in datasets:
        if dataset.task == "sentiment":
            sentiment_by_language.setdefault(dataset.lang, []).append(dataset)
    extra_by_language: dict[str, list[Dataset]] = {}
    for extra in cross_tests:
        extra_by_language.setdefault(extra.lang, []).append(extra)

    results = []
    # Small datasets first, so the first rows come quickly.
    for dataset in sorted(datasets, key=lambda d: len(d.train.texts)):
        others = [
            sentiment_three_class_view(other)
            for other in sentiment_by_language.get(dataset.lang, [])
            if dataset.task == "sentiment" and other is not dataset
        ]
        if dataset.task == "sentiment":
            others += extra_by_language.get(dataset.lang, [])
        for variant in variants(dataset):
            for model_name in model_names:
                model = MODELS[model_name]()
                started = time.perf_counter()
                chosen = model.fit(variant.train)
                seconds = time.perf_counter() - started
                predicted = model.predict(variant.test.texts)
                scores = Scores.of(variant.test.labels, predicted)
                result = Result(
                    variant, model_name, chosen, seconds, scores,
                    gold=list(variant.test.labels), predicted=list(predicted),
                )
                if variant.variant != "5-class":
                    for other in others:
                        predicted = model.predict(other.test.texts)
                        result.cross_domain.append(
                            (other.key, Scores.of(other.test.labels, predicted))
                        )
                results.append(result)
                on_result(results)
                log(
                    f"{variant.key} {variant.variant or ''} {model_name}: macro-F1 "
                    f"{scores.macro_f1:.3f} in {seconds:.0f} s ({chosen})"
                )
    return results


def scores_cells(scores: dict) -> str:
    return (
        f"{scores['accuracy']:.3f} | {scores['macro_f1']:.3f} | "
        f"{scores['macro_recall']:.3f} | {scores['weighted_f1']:.3f}"
    )


def render(records: list[dict]) -> str:
    """The markdown tables, from result records (see result_json), so saved runs can be merged."""
    order = {name: position for position, name in enumerate(MODELS)}
    records = sorted(
        records,
        key=lambda r: (r["task"], r["dataset"], r["variant"] or "", order.get(r["model"], 99)),
    )
    lines = [
        "| task | dataset | classes | model | test accuracy | test macro-F1 | test macro-recall "
        "| test weighted F1 | train n / test n | chosen on held-out 10 % | train time |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in records:
        classes = r["variant"] or str(len(r["classes"]))
        lines.append(
            f"| {r['task']} | {r['dataset']} | {classes} | {r['model']} | {scores_cells(r['test'])} | "
            f"{r['train_n']} / {r['test_n']} | {r['chosen']} | {r['train_seconds']:.0f} s |"
        )
    cross = [(r, target, scores) for r in records for target, scores in r["cross_domain"].items()]
    if cross:
        lines += [
            "",
            "Cross-domain sentiment (3-class; speech -> positive, skip dropped; model trained on "
            "the first dataset's train split, evaluated on the second's test split):",
            "",
            "| trained on | evaluated on | model | accuracy | macro-F1 | macro-recall | weighted F1 |",
            "|---|---|---|---|---|---|---|",
        ]
        for r, target, scores in cross:
            lines.append(
                f"| {r['task']}/{r['dataset']} | {target} | {r['model']} | {scores_cells(scores)} |"
            )
    return "\n".join(lines)


def environment() -> str:
    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
        f"scikit-learn {sklearn.__version__}, fasttext-wheel 0.9.2; "
        f"nproc {os.cpu_count()}, memory {memory_gib:.1f} GiB, {platform.machine()}"
    )


def result_json(result: Result) -> dict:
    return {
        "task": result.dataset.task,
        "dataset": result.dataset.name,
        "lang": result.dataset.lang,
        "variant": result.dataset.variant or None,
        "classes": sorted(set(result.dataset.train.labels)),
        "train_n": len(result.dataset.train.texts),
        "test_n": len(result.dataset.test.texts),
        "model": result.model,
        "chosen": result.chosen,
        "train_seconds": round(result.train_seconds, 2),
        "test": result.scores.__dict__,
        "cross_domain": {target: scores.__dict__ for target, scores in result.cross_domain},
    }


def predictions_path(directory: Path, result: Result) -> Path:
    dataset = result.dataset
    parts = [dataset.task, dataset.name] + ([dataset.variant] if dataset.variant else [])
    return directory / ("_".join(parts + [result.model]).replace("/", "-") + ".jsonl")


def write_predictions(directory: Path, result: Result) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = predictions_path(directory, result)
    lines = (
        json.dumps({"gold": gold, "predicted": predicted}, ensure_ascii=False) + "\n"
        for gold, predicted in zip(result.gold, result.predicted)
    )
    path.write_text("".join(lines), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    default_data = Path(__file__).resolve().parent.parent / ".." / "shared" / "data"
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=default_data, help="dataset root (TASK/NAME/)")
    parser.add_argument(
        "--only", action="append", default=[], help="keep datasets whose TASK/NAME contains this"
    )
    parser.add_argument(
        "--models", default=",".join(MODELS), help=f"comma-separated, of {', '.join(MODELS)}"
    )
    parser.add_argument(
        "--json", type=Path, help="also write the results as JSON here (rewritten after each result)"
    )
    parser.add_argument(
        "--predictions",
        type=Path,
        metavar="DIR",
        help="also write each test prediction to DIR/TASK_NAME[_VARIANT]_MODEL.jsonl "
        "({gold, predicted} per test line, in file order; for bench/paired_compare.py)",
    )
    parser.add_argument(
        "--cross-test",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="a sentiment test set without training data (DIR/test.jsonl, its `lang` on the lines): "
        "every sentiment model of that language is also scored on it as a cross-domain row",
    )
    parser.add_argument(
        "--render",
        type=Path,
        nargs="+",
        metavar="JSON",
        help="train nothing: print the tables of results saved with --json (several runs merge)",
    )
    args = parser.parse_args(argv)

    if args.render:
        records = []
        for path in args.render:
            try:
                records += json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as error:
                print(f"error: --render {path}: {error}", file=sys.stderr)
                return 2
        print(render(records))
        return 0

    model_names = [name.strip() for name in args.models.split(",") if name.strip()]
    unknown = [name for name in model_names if name not in MODELS]
    if unknown or not model_names:
        parser.error(f"--models: unknown {', '.join(unknown) or '(none given)'}; use {', '.join(MODELS)}")
    if not args.data.is_dir():
        print(f"error: --data {args.data}: not a directory (expected TASK/NAME/train.jsonl)", file=sys.stderr)
        return 2
    datasets = discover(args.data, args.only)
    if not datasets:
        print(f"error: no TASK/NAME/train.jsonl + test.jsonl under {args.data}", file=sys.stderr)
        return 2
    try:
        cross_tests = [cross_test_set(folder) for folder in args.cross_test]
    except DataError as error:
        print(f"error: --cross-test: {error}", file=sys.stderr)
        return 2

    def save(results: list[Result]) -> None:
        # Rewritten after every result, so an interrupted run keeps what it measured.
        if args.json:
            records = [result_json(r) for r in results]
            args.json.write_text(json.dumps(records, indent=1) + "\n", encoding="utf-8")
        if args.predictions and results:
            write_predictions(args.predictions, results[-1])

    # liblinear warns when it stops at max_iter; the fit is still used, as in any sklearn default run.
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    started = time.perf_counter()
    results = run(datasets, model_names, on_result=save, cross_tests=cross_tests)
    print(f"Environment: {environment()}")
    print(f"Total time: {time.perf_counter() - started:.0f} s")
    print()
    print(render([result_json(r) for r in results]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
