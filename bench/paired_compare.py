"""Compares two classifiers' predictions on the same test split, text by text.

A difference of macro-F1 on a small test split can be a text or two. This says how sure one
can be of it: both files hold one {"gold", "predicted"} line per test example in the order of
the test file (`earshot model eval --predictions` and `bench/baselines.py --predictions` write
them), and the script prints

- each side's macro-F1 and accuracy, and the difference (first minus second);
- a paired bootstrap of the macro-F1 difference (the same resampled texts for both sides):
  its 95 % interval and the share of resamples where the first side is not behind;
- the exact McNemar test of the texts one side gets right and the other wrong.

Run: bench/.venv/bin/python bench/paired_compare.py OURS.jsonl BASELINE.jsonl [--resamples N]
"""

from __future__ import annotations

import argparse
import json
import sys
from math import comb
from pathlib import Path

import numpy as np


class InputError(Exception):
    pass


def read_predictions(path: Path) -> tuple[list[str], list[str]]:
    gold, predicted = [], []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: {error}") from error
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            gold.append(str(record["gold"]))
            predicted.append(str(record["predicted"]))
        except (ValueError, KeyError, TypeError) as error:
            raise InputError(f"{path}:{number}: not a {{gold, predicted}} line: {error}") from error
    if not gold:
        raise InputError(f"{path}: no predictions")
    return gold, predicted


def macro_f1(gold: np.ndarray, predicted: np.ndarray, classes: int) -> float:
    """scikit-learn's macro-F1 over the classes present in gold or predictions (zero_division=0)."""
    scores = []
    for k in range(classes):
        true_positive = np.sum((gold == k) & (predicted == k))
        gold_k = np.sum(gold == k)
        predicted_k = np.sum(predicted == k)
        if gold_k == 0 and predicted_k == 0:
            continue
        scores.append(0.0 if true_positive == 0 else 2 * true_positive / (gold_k + predicted_k))
    return float(np.mean(scores)) if scores else 0.0


def mcnemar_exact(only_first: int, only_second: int) -> float:
    """Two-sided exact p-value of the discordant pairs under a fair coin."""
    n = only_first + only_second
    if n == 0:
        return 1.0
    tail = sum(comb(n, i) for i in range(min(only_first, only_second) + 1)) / 2**n
    return min(1.0, 2 * tail)


def compare(first: Path, second: Path, resamples: int, seed: int) -> dict:
    gold_a, predicted_a = read_predictions(first)
    gold_b, predicted_b = read_predictions(second)
    if len(gold_a) != len(gold_b):
        raise InputError(f"{first} has {len(gold_a)} predictions, {second} {len(gold_b)}: not the same test split")
    for index, (a, b) in enumerate(zip(gold_a, gold_b), start=1):
        if a != b:
            raise InputError(f"example {index}: gold {a!r} in {first}, {b!r} in {second}: not the same order")
    labels = sorted(set(gold_a) | set(predicted_a) | set(predicted_b))
    code = {label: i for i, label in enumerate(labels)}
    gold = np.array([code[g] for g in gold_a])
    a = np.array([code[p] for p in predicted_a])
    b = np.array([code[p] for p in predicted_b])
    classes = len(labels)
    f1_a, f1_b = macro_f1(gold, a, classes), macro_f1(gold, b, classes)
    rng = np.random.default_rng(seed)
    differences = np.empty(resamples)
    for r in range(resamples):
        picked = rng.integers(0, len(gold), len(gold))
        differences[r] = macro_f1(gold[picked], a[picked], classes) - macro_f1(gold[picked], b[picked], classes)
    right_a, right_b = a == gold, b == gold
    only_a, only_b = int(np.sum(right_a & ~right_b)), int(np.sum(right_b & ~right_a))
    return {
        "examples": len(gold),
        "first": {"file": str(first), "macro_f1": f1_a, "accuracy": float(np.mean(right_a))},
        "second": {"file": str(second), "macro_f1": f1_b, "accuracy": float(np.mean(right_b))},
        "difference": f1_a - f1_b,
        "bootstrap": {
            "resamples": resamples,
            "interval_95": [float(np.percentile(differences, 2.5)), float(np.percentile(differences, 97.5))],
            "share_first_not_behind": float(np.mean(differences >= 0)),
        },
        "mcnemar": {"only_first_right": only_a, "only_second_right": only_b, "p": mcnemar_exact(only_a, only_b)},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("first", type=Path)
    parser.add_argument("second", type=Path)
    parser.add_argument("--resamples", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    try:
        result = compare(args.first, args.second, args.resamples, args.seed)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    low, high = result["bootstrap"]["interval_95"]
    print(f"{result['examples']} test examples")
    for side in ("first", "second"):
        r = result[side]
        print(f"{side}: {r['file']}: macro-F1 {r['macro_f1']:.5f}, accuracy {r['accuracy']:.4f}")
    print(
        f"macro-F1 difference (first - second) {result['difference']:+.5f}, "
        f"paired bootstrap 95 % interval [{low:+.4f}, {high:+.4f}] over {args.resamples} resamples, "
        f"first not behind in {100 * result['bootstrap']['share_first_not_behind']:.1f} %"
    )
    m = result["mcnemar"]
    print(
        f"McNemar: {m['only_first_right']} texts only the first gets right, "
        f"{m['only_second_right']} only the second, exact p = {m['p']:.3f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
