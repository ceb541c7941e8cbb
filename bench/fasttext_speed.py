#!/usr/bin/env python3
"""Single-thread fastText prediction speed, for the ">= 3x fastText" comparison of issue 3.

Trains a fastText supervised model (wordNgrams=2, thread=1, fixed seed; default epoch/lr unless
given) on a dataset's train.jsonl, or loads a saved .bin, then predicts the top label for N texts and
prints ONE line of key=value pairs on stdout, e.g.

  fasttext_speed texts=1000000 texts_per_s=412345 seconds=2.425 mean_bytes=112.3 threads=1 ...

Texts come from a JSON Lines file (`text` field; cycled if it has fewer than N lines) or are
generated from the training vocabulary (--generate, seeded). Texts are lowercased and their line
breaks made spaces before timing, as in baselines.py; reading and that preparation are not timed.
The timed part is `model.predict(list, k=1)`: fastText's C++ loop over the list on one thread, plus
the binding's conversion of each result to Python objects (any caller from Python pays that).
Also timed: fastText's own C++ loop (`model.test` over a file of the same texts), reported as
native_texts_per_s. Both are also given per CPU-second of the thread (cpu_texts_per_s,
native_cpu_texts_per_s; `time.thread_time`), the measure analysis_bench uses. The best of --repeat runs is reported (the machine is shared; the best is the least disturbed).

Run with the venv from bench/setup-venv.sh:
  bench/.venv/bin/python bench/fasttext_speed.py --train ../shared/data/sentiment/en-semeval2017/train.jsonl \
      --texts ../shared/data/sentiment/en-semeval2017/test.jsonl -n 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from baselines import DataError, fasttext_line, read_jsonl, train_fasttext  # noqa: E402


def read_texts(path: Path, count: int) -> list[str]:
    texts = []
    with path.open(encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                text = json.loads(line)["text"]
                if not isinstance(text, str):
                    raise ValueError("`text` is not a string")
            except (ValueError, KeyError, TypeError) as error:
                print(f"warning: {path}:{number}: skipped: {error}", file=sys.stderr)
                continue
            texts.append(fasttext_line(text.lower()))
    if not texts:
        raise DataError(f"{path}: no line with a `text`")
    return [texts[i % len(texts)] for i in range(count)]


def generate_texts(vocabulary: list[str], count: int, seed: int) -> list[str]:
    # Lengths of 5-30 words are about those of tweets and short comments.
    rng = random.Random(seed)
    return [" ".join(rng.choices(vocabulary, k=rng.randint(5, 30))) for _ in range(count)]


def native_prediction_seconds(model, inputs: list[str], repeat: int) -> tuple[float, float]:
    """Best time of fastText's own C++ test loop over the texts (no Python object per text).

    `model.test` reads a labelled file and predicts every line in C++, so this is the speed of
    fastText itself, file parsing included, the way its command-line `predict` runs. Every line gets
    the model's first label, because `test` skips lines without one.
    """
    label = model.get_labels()[0]
    with tempfile.NamedTemporaryFile("w", suffix=".txt", encoding="utf-8", delete=False) as file:
        for text in inputs:
            file.write(f"{label} {text}\n")
        path = file.name
    try:
        best = best_cpu = float("inf")
        for _ in range(repeat):
            started, started_cpu = time.perf_counter(), time.thread_time()
            evaluated, _, _ = model.test(path, k=1)
            best = min(best, time.perf_counter() - started)
            best_cpu = min(best_cpu, time.thread_time() - started_cpu)
    finally:
        os.unlink(path)
    # A text of only out-of-vocabulary words is still predicted; an empty one is skipped by fastText.
    if evaluated != sum(1 for text in inputs if text):
        raise RuntimeError(f"fastText evaluated {evaluated} of {len(inputs)} texts")
    return best, best_cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--train", type=Path, help="train.jsonl to train a model on")
    source.add_argument("--model", type=Path, help="a fastText .bin to load instead of training")
    texts = parser.add_mutually_exclusive_group(required=True)
    texts.add_argument("--texts", type=Path, help="JSON Lines with a `text` field to predict")
    texts.add_argument("--generate", action="store_true", help="random texts from the train vocabulary")
    parser.add_argument("-n", type=int, default=100_000, help="how many texts to predict (default 100000)")
    parser.add_argument("--epoch", type=int, default=5)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--save-model", type=Path, help="save the trained model here (.bin)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs; the best is reported")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.n < 1 or args.repeat < 1:
        parser.error("-n and --repeat must be at least 1")

    import fasttext

    try:
        if args.model:
            if not args.model.is_file():
                raise DataError(f"--model {args.model}: file not found")
            model = fasttext.load_model(str(args.model))
            vocabulary = model.get_words()
            origin = f"model={args.model}"
        else:
            train = read_jsonl(args.train)
            model = train_fasttext(train, args.epoch, args.lr)
            vocabulary = sorted({word for text in train.texts for word in text.split()})
            origin = f"train={args.train} epoch={args.epoch} lr={args.lr:g}"
            if args.save_model:
                model.save_model(str(args.save_model))
        if args.texts:
            inputs = read_texts(args.texts, args.n)
            origin += f" texts_from={args.texts}"
        else:
            if not vocabulary:
                raise DataError("the model has no vocabulary to generate texts from")
            inputs = generate_texts(vocabulary, args.n, args.seed)
            origin += " texts_from=generated"
    except (DataError, ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    # One untimed pass over a slice, so first-touch page faults of the model are not counted.
    model.predict(inputs[: min(len(inputs), 1000)], k=1)
    best = best_cpu = float("inf")
    for _ in range(args.repeat):
        started, started_cpu = time.perf_counter(), time.thread_time()
        labels, _ = model.predict(inputs, k=1)
        best = min(best, time.perf_counter() - started)
        best_cpu = min(best_cpu, time.thread_time() - started_cpu)
    if len(labels) != len(inputs):
        print(f"error: fastText returned {len(labels)} predictions for {len(inputs)} texts", file=sys.stderr)
        return 1

    native_best, native_best_cpu = native_prediction_seconds(model, inputs, args.repeat)

    mean_bytes = sum(len(text.encode("utf-8")) for text in inputs) / len(inputs)
    print(
        f"fasttext_speed texts={len(inputs)} texts_per_s={len(inputs) / best:.0f} seconds={best:.3f} "
        f"native_texts_per_s={len(inputs) / native_best:.0f} native_seconds={native_best:.3f} "
        # Per CPU-second of the predicting thread, as analysis_bench reports the analysis: on a
        # shared machine the wall clock also counts the time other processes held the core.
        f"cpu_texts_per_s={len(inputs) / best_cpu:.0f} "
        f"native_cpu_texts_per_s={len(inputs) / native_best_cpu:.0f} "
        f"mean_bytes={mean_bytes:.1f} threads=1 labels={len(model.get_labels())} "
        f"fasttext=fasttext-wheel-0.9.2 {origin}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
