"""Who is right where the sentiment model and the praise/complaint cues disagree.

The analysis reports a sentiment from the model and intents from transparent cue rules
(crates/earshot-analysis/src/rules.rs). A text with a praise cue and no complaint cue "says"
positive, one with a complaint cue and no praise cue negative. This runs each sentiment test
split through `earshot analyze` (with its declared language) and counts, among the texts where
exactly one of the two cues fires and the reported sentiment is not the cue's polarity, how
often the gold label sides with the model, with the cue, or with neither; and the same among
those where the model's probability is below 0.6 and below 0.8. It is the evidence behind
letting the cues lead the sentiment in Greek and Russian, not English (docs/MODELS.md, round 16).

The Russian sets' `speech` (greetings, thanks) counts as positive and `skip` is left out, as in
the 3-class figures (crates/earshot-analysis/src/train.rs, `Task::map_label`).

Run (after a release build of the CLI):
    python3 bench/cue_vs_model.py --earshot target/release/earshot --data ../shared/data
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

SPLITS = ["el-politics", "en-semeval2017", "ru-rusentitweet", "ru-rusentiment"]
POLARITY = {"praise": "positive", "complaint": "negative"}
UNSURE_BELOW = (0.6, 0.8)


def disagreements(gold: list[dict], analysed: list[dict]) -> Counter:
    """Counts keyed by (bucket, winner): bucket is "all" or "below X"."""
    counts: Counter = Counter()
    for example, line in zip(gold, analysed):
        label = {"speech": "positive"}.get(example["label"], example["label"])
        if label == "skip":
            continue
        analysis = line["analysis"]
        intents = {intent["label"] for intent in analysis.get("intents") or []}
        cues = [cue for cue in POLARITY if cue in intents]
        if len(cues) != 1 or analysis.get("sentiment") is None:
            continue
        model = analysis["sentiment"]
        cue_says = POLARITY[cues[0]]
        if model["label"] == cue_says:
            continue
        winner = "model" if model["label"] == label else "cue" if cue_says == label else "neither"
        counts[("all", winner)] += 1
        for bound in UNSURE_BELOW:
            if model["score"] < bound:
                counts[(f"below {bound}", winner)] += 1
    return counts


def earshot_and_data_arguments(description: str) -> argparse.ArgumentParser:
    """The arguments of the scripts that run `earshot analyze` over the sentiment splits."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--earshot", default="target/release/earshot")
    parser.add_argument("--data", default="../shared/data")
    return parser


def missing_earshot_or_data(earshot: str, data: Path) -> bool:
    """Says on stderr what is missing, if the binary or the sentiment data is."""
    if not Path(earshot).is_file():
        print(f"no earshot binary at {earshot}: build it with "
              "`cargo build --release -p earshot-cli`", file=sys.stderr)
        return True
    if not (data / "sentiment").is_dir():
        print(f"no sentiment data under {data}: nothing to measure", file=sys.stderr)
        return True
    return False


def json_lines(text: str) -> list[dict]:
    """Each non-empty line parsed. Only "\n" ends a line: texts may hold U+2028 and the other
    separators `str.splitlines` cuts at."""
    return [json.loads(line) for line in text.split("\n") if line.strip()]


def analysed_lines(earshot: str, path: Path, *flags: str) -> tuple[list[dict], int]:
    """`earshot analyze [FLAGS] PATH`: its output lines, and how many lines it could not read
    (one message each on stderr)."""
    run = subprocess.run([earshot, "analyze", *flags, str(path)], capture_output=True,
                         text=True, check=True)
    return json_lines(run.stdout), run.stderr.count("\n")


def main() -> int:
    args = earshot_and_data_arguments(__doc__.splitlines()[0]).parse_args()
    data = Path(args.data)
    if missing_earshot_or_data(args.earshot, data):
        return 2
    print("| split | where they disagree: model right / cue right / neither "
          "| model below 0.6 | model below 0.8 |")
    print("|---|---|---|---|")
    for split in SPLITS:
        test = data / "sentiment" / split / "test.jsonl"
        if not test.is_file():
            print(f"skipping {split}: {test} is missing", file=sys.stderr)
            continue
        gold = json_lines(test.read_text(encoding="utf-8"))
        analysed, _ = analysed_lines(args.earshot, test)
        if len(analysed) != len(gold):
            print(f"{split}: {len(analysed)} analyses for {len(gold)} texts", file=sys.stderr)
            return 1
        counts = disagreements(gold, analysed)
        cells = [
            " / ".join(str(counts[(bucket, who)]) for who in ("model", "cue", "neither"))
            for bucket in ("all", *(f"below {b}" for b in UNSURE_BELOW))
        ]
        print(f"| {split} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
