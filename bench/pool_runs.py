"""Pool the held-out figures of several training runs: the spread of a recipe over splits, and its mean.

    maskwatch train --name cv-split11 --split-seed 11      # the same recipe on other splits
    maskwatch train --name cv-split22 --split-seed 22
    python bench/pool_runs.py runs/el0-synth100 runs/cv-split11 runs/cv-split22

With a rare class of a few dozen faces, one test split decides a lot (docs/model.md, "How much the test split
decides"). This reads each run's ``metrics.json`` and prints, per run and over all of them together, the accuracy
and per-class recall on each data set of the test split (and of the validation split, for runs whose validation
faces were held out), as counts, so the pooled figure is the sum of the faces, not a mean of percentages.
A face can be in more than one run's test split; the pooled figure estimates what the recipe does on new faces
of the kind, it is not a larger test split. The counts are recovered from the figures metrics.json records
(accuracy and recall to 4 decimals), which is exact for up to 10,000 faces per data set and split.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from edge_agent.core.labels import WITH_MASK, WITHOUT_MASK

Counts = dict[str, list[int]]  # key -> [right, total]


def run_counts(metrics: dict[str, Any], kind: str, split: str) -> dict[str, Counts]:
    """Per data set: {'all': [right, n], '<label>': [found, support]} from one run's metrics.json section."""
    out: dict[str, Counts] = {}
    for source, m in metrics[kind][split]["by_source"].items():
        c: Counts = {"all": [round(m["accuracy"] * m["n"]), m["n"]]}
        for label, pc in m["per_class"].items():
            if pc["support"]:
                c[label] = [round(pc["recall"] * pc["support"]), pc["support"]]
        if "two_class_accuracy" in m:  # a two-class set: with/without faces, the larger of those two probabilities
            n_two = sum(pc["support"] for label, pc in m["per_class"].items() if label in (WITH_MASK, WITHOUT_MASK))
            c["two-class"] = [round(m["two_class_accuracy"] * n_two), n_two]
        out[source] = c
    return out


def pool(per_run: list[dict[str, Counts]]) -> dict[str, Counts]:
    total: dict[str, Counts] = defaultdict(lambda: defaultdict(lambda: [0, 0]))  # type: ignore[arg-type]
    for counts in per_run:
        for source, c in counts.items():
            for key, (right, n) in c.items():
                total[source][key][0] += right
                total[source][key][1] += n
    return {s: dict(c) for s, c in total.items()}


def _line(name: str, counts: dict[str, Counts]) -> str:
    parts = []
    for source in sorted(counts):
        c = counts[source]
        right, n = c["all"]
        recalls = " ".join(f"{label} {r}/{t}" for label, (r, t) in sorted(c.items()) if label not in ("all", "two-class"))
        if "two-class" in c:
            recalls += f"; two-class {c['two-class'][0]}/{c['two-class'][1]}"
        parts.append(f"{source} {right}/{n} = {right / n:.2%} ({recalls})")
    return f"{name:24s} " + " | ".join(parts)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", type=Path, help="run folders (runs/<name>) holding metrics.json")
    p.add_argument("--kind", choices=("int8", "float"), default="int8")
    args = p.parse_args(argv)
    loaded = []
    for run in args.runs:
        path = run / "metrics.json"
        if not path.is_file():
            p.error(f"{path} not found: pass run folders written by maskwatch train")
        loaded.append((run.name, json.loads(path.read_text())))
    for split in ("test", "val"):
        rows = [(name, run_counts(m, args.kind, split)) for name, m in loaded
                if split == "test" or m.get("val_held_out", True)]
        left_out = len(loaded) - len(rows)
        print(f"{split} ({args.kind})" + (f": {left_out} run(s) left out, their validation faces were fitted" if left_out else ""))
        for name, counts in rows:
            print(_line(name, counts))
        if rows:
            print(_line(f"pooled ({len(rows)} run{'s' * (len(rows) != 1)})", pool([c for _, c in rows])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
