"""How often each praise and complaint cue is right about the tone, on labelled training texts.

The intent rules (crates/earshot-analysis/src/rules.rs) are written, not learned, and in Greek
and Russian a praise or complaint cue leads an unsure sentiment model (docs/MODELS.md, round
16). This runs each sentiment training split through `earshot analyze --explain` (with its
declared language) and prints, for every cue found on at least `--min-texts` texts (not
negated), on how many texts it fires and which share of them has the cue's tone as gold label
(positive for praise, negative for complaint), beside the split's base rate of that tone. It
is the measurement behind round 17's rule for new praise cues: keep a cue whose share is at
least 0.75 on every split where it fires at least five times. Training splits, not test
splits: the cues are chosen here, the test splits confirm.

The Russian sets' `speech` (greetings, thanks) counts as positive and `skip` is left out, as in
the 3-class figures.

Run (after a release build of the CLI):
    python3 bench/cue_precision.py --earshot target/release/earshot --data ../shared/data
"""

from __future__ import annotations

import sys
from collections import Counter, defaultdict
from pathlib import Path

from cue_vs_model import analysed_lines, earshot_and_data_arguments, missing_earshot_or_data

SPLITS = ["en-semeval2017", "ru-rusentitweet", "ru-rusentiment", "el-politics"]
TONE_OF = {"praise": "positive", "complaint": "negative"}
KEEP_SHARE = 0.75


def cue_tones(analysed: list[dict]) -> tuple[dict, Counter]:
    """Per (intent, cue): a Counter of the gold tones of the texts it fires on; and the base
    counts of the gold tones. Each line is an input line with its `label`, as `earshot analyze
    --explain` writes it back (a line it cannot read it reports and leaves out)."""
    per_cue: dict = defaultdict(Counter)
    base: Counter = Counter()
    for line in analysed:
        tone = {"speech": "positive"}.get(line["label"], line["label"])
        if tone == "skip":
            continue
        base[tone] += 1
        fired = {
            (cue["intent"], cue["cue"])
            for cue in line["explain"]["cues"]
            if cue["intent"] in TONE_OF and not cue["negated"]
        }
        for key in fired:
            per_cue[key][tone] += 1
    return per_cue, base


def rows(per_cue: dict, base: Counter, min_texts: int) -> list[tuple]:
    """(intent, cue, texts, share of the cue's tone, base share), most frequent first."""
    total = sum(base.values()) or 1
    out = []
    for (intent, cue), tones in per_cue.items():
        texts = sum(tones.values())
        if texts < min_texts:
            continue
        tone = TONE_OF[intent]
        out.append((intent, cue, texts, tones[tone] / texts, base[tone] / total))
    out.sort(key=lambda row: (row[0], -row[2], row[1]))
    return out


def main() -> int:
    parser = earshot_and_data_arguments(__doc__.splitlines()[0])
    parser.add_argument("--min-texts", type=int, default=5)
    args = parser.parse_args()
    data = Path(args.data)
    if missing_earshot_or_data(args.earshot, data):
        return 2
    print("| split | intent | cue | texts | share of its tone | base share | at least 0.75 |")
    print("|---|---|---|---:|---:|---:|---|")
    for split in SPLITS:
        train = data / "sentiment" / split / "train.jsonl"
        if not train.is_file():
            print(f"skipping {split}: {train} is missing", file=sys.stderr)
            continue
        analysed, skipped = analysed_lines(args.earshot, train, "--explain")
        if skipped:
            print(f"{split}: {skipped} unreadable lines left out (earshot's messages on stderr)",
                  file=sys.stderr)
        per_cue, base = cue_tones(analysed)
        for intent, cue, texts, share, base_share in rows(per_cue, base, args.min_texts):
            keep = "yes" if share >= KEEP_SHARE else "no"
            print(f"| {split} | {intent} | `{cue}` | {texts} | {share:.2f} | {base_share:.2f} | {keep} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
