"""bench/pool_runs.py: several runs' held-out figures summed face by face."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from trainer.evaluate import metrics

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "pool_runs.py"
LABELS = ["with_mask", "without_mask", "mask_incorrect"]


def _module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("pool_runs", SCRIPT)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _split(rng: np.random.Generator, n: int) -> tuple[list[str], list[str], np.ndarray]:
    sources = ["voc"] * (n - 20) + ["folders"] * 20
    y = [LABELS[i] for i in rng.choice(3, n - 20, p=[0.7, 0.2, 0.1])] + [LABELS[i % 2] for i in range(20)]
    probs = rng.dirichlet(np.ones(3), n).astype(np.float32)
    for i, label in enumerate(y):  # right about two times in three
        if rng.random() < 0.66:
            probs[i, LABELS.index(label)] += 1.0
    return y, sources, probs / probs.sum(1, keepdims=True)


def _run_dir(root: Path, name: str, seed: int, held_out: bool = True) -> tuple[Path, dict[str, tuple]]:
    rng = np.random.default_rng(seed)
    truth, section = {}, {}
    for split, n in (("val", 90), ("test", 140)):
        y, sources, probs = _split(rng, n)
        truth[split] = (y, sources, probs.argmax(1))
        section[split] = metrics(probs, y, LABELS, sources)
    run = root / name
    run.mkdir()
    (run / "metrics.json").write_text(json.dumps({"int8": section, "float": section, "val_held_out": held_out}))
    return run, truth


def _expected(truths: list[dict[str, tuple]], split: str, source: str) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {"all": [0, 0]}
    for t in truths:
        y, sources, pred = t[split]
        for label, s, p in zip(y, sources, pred, strict=True):
            if s != source:
                continue
            right = int(LABELS[p] == label)
            out["all"][0] += right
            out["all"][1] += 1
            out.setdefault(label, [0, 0])
            out[label][0] += right
            out[label][1] += 1
    return out


def test_pooled_counts_are_the_sums_of_the_faces(tmp_path: Path) -> None:
    mod = _module()
    runs = [_run_dir(tmp_path, f"r{i}", seed=i) for i in range(3)]
    per_run = [mod.run_counts(json.loads((r / "metrics.json").read_text()), "int8", "test") for r, _ in runs]
    pooled = mod.pool(per_run)
    truths = [t for _, t in runs]
    voc = pooled["voc"]
    assert voc == _expected(truths, "test", "voc")
    folders = {k: v for k, v in pooled["folders"].items() if k != "two-class"}
    assert folders == _expected(truths, "test", "folders")
    assert pooled["folders"]["two-class"][1] == 60  # 20 with/without faces in each of three runs


def test_cli_prints_each_run_and_leaves_out_fitted_validation(tmp_path: Path) -> None:
    a, ta = _run_dir(tmp_path, "held", seed=1)
    b, tb = _run_dir(tmp_path, "refit", seed=2, held_out=False)
    r = subprocess.run([sys.executable, str(SCRIPT), str(a), str(b)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    test_part, val_part = r.stdout.split("val (int8)")
    right, n = _expected([ta, tb], "test", "voc")["all"]
    assert f"voc {right}/{n} = {right / n:.2%}" in test_part.splitlines()[-1]
    assert "1 run(s) left out" in val_part and "refit" not in val_part
    right, n = _expected([ta], "val", "voc")["all"]
    assert "pooled (1 run)" in val_part and f"voc {right}/{n}" in val_part


def test_a_folder_without_metrics_is_a_clear_error(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "metrics.json not found" in r.stderr
