"""Local classification throughput on one core: one email at a time, in batches, and model load.

    python bench/classify.py [--quick] [--json] [--dataset PATH]

Emails come from the project's dev split (default), repeated to the run's size. Includes field
extraction, as the pipeline runs it. The scorer caches each word's character n-gram columns, so
repeated emails run warm; `unseen_emails_per_s` is a first pass over every distinct email of the
dataset and the training set with an empty cache, the rate for mail it has never seen. The last
line with --json is one JSON object of figures.

Batches: `sklearn_batch64_emails_per_s` is a plain scikit-learn pipeline holding the same weights
(`predict_proba` on 64 texts); `scorer_batch64_emails_per_s` is ours on the same texts (scoring
only, like for like); `batch64_emails_per_s` is `classify_many`, which adds field extraction.
Model load: `model_load_ms` reads the bundled file into a ready scorer in this process;
`cold_start_ms` is a fresh interpreter importing Tidings, loading the model and classifying one
email (median of 3).
"""

from __future__ import annotations

import os

# One core: BLAS must not fan out over threads. Set before numpy is imported.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402 - after the thread limits above
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from tidings.classifiers.local import BUNDLED_MODEL, LocalClassifier, load_model  # noqa: E402
from tidings.classifiers.text import model_text  # noqa: E402
from tidings.classifiers.types import ClassifyContext  # noqa: E402
from tidings.evals.dataset import load_dataset  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 emails instead of 5,000")
    parser.add_argument("--json", action="store_true", help="end with one JSON line of figures")
    parser.add_argument("--dataset", type=Path, default=ROOT / "data" / "labelled" / "dev")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    size = 1000 if args.quick else 5000
    records = load_dataset(args.dataset)
    emails = [records[i % len(records)].as_input() for i in range(size)]
    context = ClassifyContext(
        order_id_patterns=[r"\bKAP-\d{6}\b", r"\bSERI-\d{5}\b", r"\bGRH-\d{6}\b"]
    )
    unseen = [r.as_input() for r in records + load_dataset(ROOT / "data" / "labelled" / "train")]
    started = time.perf_counter()
    model = load_model.__wrapped__(BUNDLED_MODEL)  # past the per-process cache: a real read
    model_load = time.perf_counter() - started
    classifier = LocalClassifier(model=model)
    classifier.classify(emails[0], context)
    for block in getattr(classifier.scorer, "blocks", []):
        block.words.clear()  # start cold
    started = time.perf_counter()
    for email in unseen:
        classifier.classify(email, context)
    first_pass = time.perf_counter() - started
    started = time.perf_counter()
    for email in emails:
        classifier.classify(email, context)
    single = time.perf_counter() - started
    started = time.perf_counter()
    for start in range(0, size, 64):
        classifier.classify_many(emails[start : start + 64], context)
    batched = time.perf_counter() - started
    texts = [model_text(e) for e in emails]
    started = time.perf_counter()
    for start in range(0, size, 64):
        classifier.scorer.probabilities_many(texts[start : start + 64])
    scorer_batched = time.perf_counter() - started
    sklearn = model.weights.to_pipeline()
    sklearn.predict_proba(texts[:64])  # warm
    started = time.perf_counter()
    for start in range(0, size, 64):
        sklearn.predict_proba(texts[start : start + 64])
    sklearn_batched = time.perf_counter() - started
    figures = {
        "emails": size,
        "mean_chars": round(sum(len(e.text) + len(e.subject) for e in emails) / size),
        "single_emails_per_s": round(size / single, 1),
        "single_ms_per_email": round(single / size * 1000, 3),
        "unseen_emails": len(unseen),
        "unseen_emails_per_s": round(len(unseen) / first_pass, 1),
        "batch64_emails_per_s": round(size / batched, 1),
        "scorer_batch64_emails_per_s": round(size / scorer_batched, 1),
        "sklearn_batch64_emails_per_s": round(size / sklearn_batched, 1),
        "scorer_vs_sklearn_batch": round(sklearn_batched / scorer_batched, 2),
        "model_load_ms": round(model_load * 1000, 1),
        "cold_start_ms": _cold_start_ms(),
        "cores": 1,
        "model": classifier.tag,
    }
    if not args.json:
        for key, value in figures.items():
            print(f"{key:>22}: {value}")
    print(json.dumps(figures))


def _cold_start_ms() -> float:
    code = (
        "import time; t = time.perf_counter();"
        "from tidings.classifiers.local import LocalClassifier;"
        "from tidings.classifiers.types import ClassifyContext, EmailInput;"
        "LocalClassifier().classify(EmailInput(subject='', text='where is my parcel'), "
        "ClassifyContext()); print(time.perf_counter() - t)"
    )
    runs = [
        float(
            subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(3)
    ]
    return round(statistics.median(runs) * 1000, 1)


if __name__ == "__main__":
    main()
