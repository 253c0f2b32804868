"""Local classification throughput on one core: one email at a time, and in batches.

    python bench/classify.py [--quick] [--json] [--dataset PATH]

Emails come from the project's dev split (default), repeated to the run's size. Includes field
extraction, as the pipeline runs it. The scorer caches each word's character n-gram columns, so
repeated emails run warm; `unseen_emails_per_s` is a first pass over every distinct email of the
dataset and the training set with an empty cache, the rate for mail it has never seen. The last
line with --json is one JSON object of figures.
"""

from __future__ import annotations

import os

# One core: BLAS must not fan out over threads. Set before numpy is imported.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402 - after the thread limits above
import json  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from tidings.classifiers.local import LocalClassifier  # noqa: E402
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
    classifier = LocalClassifier()
    classifier.classify(emails[0], context)  # load
    for block in classifier._fast.blocks if classifier._fast else []:
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
    figures = {
        "emails": size,
        "mean_chars": round(sum(len(e.text) + len(e.subject) for e in emails) / size),
        "single_emails_per_s": round(size / single, 1),
        "single_ms_per_email": round(single / size * 1000, 3),
        "unseen_emails": len(unseen),
        "unseen_emails_per_s": round(len(unseen) / first_pass, 1),
        "batch64_emails_per_s": round(size / batched, 1),
        "cores": 1,
        "model": classifier.tag,
    }
    if not args.json:
        for key, value in figures.items():
            print(f"{key:>22}: {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
