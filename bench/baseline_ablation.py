"""Which parts of the TF-IDF baseline (bench/baselines.py) carry its score: each variant drops one
ingredient and is scored on the test split at the baseline's chosen C (and C/4, 4C), so the
figures say what a feature is worth, not what a search would pick (docs/MODELS.md, round 5).

    bench/.venv/bin/python bench/baseline_ablation.py ru-rusentitweet 128 none 3-class
    bench/.venv/bin/python bench/baseline_ablation.py el-politics 2 none
    bench/.venv/bin/python bench/baseline_ablation.py en-youtube 32 none

Arguments: dataset name (as in ../shared/data/TASK/NAME), the baseline's C, its class weight
(none|balanced), and for the Russian 5-class sets the variant (3-class|5-class).
"""
import sys
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer, HashingVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.pipeline import FeatureUnion
from sklearn.preprocessing import normalize

sys.path.insert(0, str(Path(__file__).resolve().parent))
from baselines import discover, variants  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def tfidf(idf=True, sub=True, cmin=2, cmax=5):
    return FeatureUnion([
        ("w", TfidfVectorizer(analyzer="word", ngram_range=(1, 2), token_pattern=r"(?u)\b\w+\b",
                              sublinear_tf=sub, use_idf=idf, lowercase=False, dtype=np.float32)),
        ("c", TfidfVectorizer(analyzer="char_wb", ngram_range=(cmin, cmax), sublinear_tf=sub,
                              use_idf=idf, lowercase=False, dtype=np.float32)),
    ])


def main() -> None:
    name, c, weight = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    want = sys.argv[4] if len(sys.argv) > 4 else ""
    class_weight = None if weight == "none" else "balanced"
    if not DATA.is_dir():
        sys.exit(f"{DATA}: not found (the shared data is needed)")
    ds = [v for d in discover(DATA, [name]) for v in variants(d) if v.variant in ("", want)][0]
    train, test, y, gold = ds.train.texts, ds.test.texts, ds.train.labels, ds.test.labels
    print(f"{ds.key} {ds.variant} train {len(train)} test {len(test)} C {c:g} {weight}", flush=True)

    def score(x, t, multinomial=False, cc=c):
        model = (LogisticRegression(solver="lbfgs", C=cc, class_weight=class_weight, max_iter=3000)
                 if multinomial else
                 LogisticRegression(solver="liblinear", dual=True, C=cc, class_weight=class_weight,
                                    max_iter=1000))
        return f1_score(gold, model.fit(x, y).predict(t), average="macro")

    for label, options in [
        ("baseline (IDF, sublinear TF, char 2-5)", {}),
        ("no sublinear TF", {"sub": False}),
        ("no IDF", {"idf": False}),
        ("no IDF, no sublinear TF", {"idf": False, "sub": False}),
        ("char 3-5", {"cmin": 3}),
        ("no IDF, no sublinear, char 3-5", {"idf": False, "sub": False, "cmin": 3}),
    ]:
        features = tfidf(**options)
        x, t = features.fit_transform(train), features.transform(test)
        print(f"{label:40s} C/4 {score(x, t, cc=c / 4):.3f}  C {score(x, t):.3f}  "
              f"4C {score(x, t, cc=c * 4):.3f}", flush=True)
        if not options:
            print(f"{'  the same, multinomial (lbfgs)':40s} C {score(x, t, multinomial=True):.3f}",
                  flush=True)

    # Linear TF without IDF, as Earshot's features: the norm, the hashing and the loss.
    def blocks(make, count_norm=False):
        out = []
        for vectoriser in make():
            x, t = vectoriser.fit_transform(train), vectoriser.transform(test)
            if count_norm:  # 1/sqrt(number of entries), as if every entry were distinct
                def scale(m):
                    m = m.astype(np.float64).tocsr()
                    s = np.sqrt(np.asarray(m.sum(axis=1)).ravel())
                    s[s == 0] = 1
                    return sp.diags(1 / s) @ m
                x, t = scale(x), scale(t)
            else:
                x, t = normalize(x), normalize(t)
            out.append((x, t))
        return sp.hstack([a for a, _ in out]).tocsr(), sp.hstack([b for _, b in out]).tocsr()

    words = dict(analyzer="word", ngram_range=(1, 2), token_pattern=r"(?u)\b\w+\b", lowercase=False)
    chars = dict(analyzer="char_wb", ngram_range=(2, 5), lowercase=False)
    counts = lambda: [CountVectorizer(**words), CountVectorizer(**chars)]  # noqa: E731
    hashed = lambda: [HashingVectorizer(n_features=2**18, alternate_sign=True, norm=None, **kw)  # noqa: E731
                      for kw in (words, chars)]
    x, t = blocks(counts)
    print(f"{'linear TF, L2 norm, one-vs-rest':40s} C {score(x, t):.3f}", flush=True)
    print(f"{'linear TF, L2 norm, multinomial':40s} C {score(x, t, multinomial=True):.3f}", flush=True)
    x, t = blocks(counts, count_norm=True)
    print(f"{'linear TF, count norm, one-vs-rest':40s} C {score(x, t):.3f}", flush=True)
    x, t = blocks(hashed)
    print(f"{'linear TF, 2^18 signed hashing, OvR':40s} C {score(x, t):.3f}", flush=True)


if __name__ == "__main__":
    main()
