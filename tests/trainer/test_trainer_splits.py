"""Splits: deterministic, grouped by source photo (duplicates together), stratified by the rarest label."""

from collections import Counter

import numpy as np
import pytest

from trainer.splits import assign_splits


def _data(n_groups: int = 300, seed: int = 0) -> tuple[list[str], list[str], list[str]]:
    rng = np.random.default_rng(seed)
    labels, groups, sources = [], [], []
    for g in range(n_groups):
        n = int(rng.integers(1, 6))
        for _ in range(n):
            labels.append(str(rng.choice(["with_mask", "without_mask", "mask_incorrect"], p=[0.8, 0.17, 0.03])))
            groups.append(f"g{g}")
            sources.append("a" if g % 2 else "b")
    return labels, groups, sources


def test_every_group_lies_in_one_split():
    labels, groups, sources = _data()
    split = assign_splits(labels, groups, sources, 0.15, 0.15, seed=1)
    by_group: dict[str, set[str]] = {}
    for g, s in zip(groups, split, strict=True):
        by_group.setdefault(g, set()).add(str(s))
    assert all(len(s) == 1 for s in by_group.values())
    assert set(split.tolist()) == {"train", "val", "test"}


def test_duplicate_images_share_a_split_because_they_share_a_hash_group():
    # two byte-identical photos get the same group key (their file hash) whatever their annotations say
    labels = ["with_mask", "without_mask"] * 50 + ["with_mask", "mask_incorrect"]
    groups = [f"h{i // 2}" for i in range(100)] + ["dup", "dup"]
    split = assign_splits(labels, groups, None, 0.2, 0.2, seed=3)
    assert split[-1] == split[-2]


def test_deterministic_for_a_seed_and_different_for_another():
    labels, groups, sources = _data()
    a = assign_splits(labels, groups, sources, 0.12, 0.15, seed=7)
    b = assign_splits(labels, groups, sources, 0.12, 0.15, seed=7)
    c = assign_splits(labels, groups, sources, 0.12, 0.15, seed=8)
    assert (a == b).all()
    assert (a != c).any()


def test_rare_class_reaches_every_split_in_proportion():
    labels, groups, sources = _data(n_groups=600)
    split = assign_splits(labels, groups, sources, 0.15, 0.15, seed=2)
    rare = Counter(s for lab, s in zip(labels, split, strict=True) if lab == "mask_incorrect")
    total = sum(rare.values())
    assert rare["test"] > 0 and rare["val"] > 0
    assert 0.05 < rare["test"] / total < 0.35
    # each source is spread too
    for src in ("a", "b"):
        sel = [s for s, so in zip(split, sources, strict=True) if so == src]
        assert 0.08 < sel.count("test") / len(sel) < 0.25


@pytest.mark.parametrize(("val", "test"), [(0.0, 0.1), (0.1, 0.0), (0.5, 0.5)])
def test_bad_fractions_are_refused(val, test):
    with pytest.raises(ValueError, match="fraction"):
        assign_splits(["with_mask"], ["g"], None, val, test)


def test_mismatched_lengths_are_refused():
    with pytest.raises(ValueError, match="same length"):
        assign_splits(["with_mask", "without_mask"], ["g"], None)
