"""Deterministic train/val/test split: stratified, grouped by source image, duplicates kept together.

Every face carries a group key (the hash of its source file), so faces of one photo and byte-identical
photos land in the same split. Groups are stratified by (data set, rarest label they contain): a photo with
one ``mask_incorrect`` face among ten masked ones is placed as a ``mask_incorrect`` photo, which keeps the
rare class spread over all splits.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

SPLITS = ("train", "val", "test")


def assign_splits(
    labels: Sequence[str] | npt.NDArray[np.str_],
    groups: Sequence[str] | npt.NDArray[np.str_],
    sources: Sequence[str] | npt.NDArray[np.str_] | None = None,
    val_fraction: float = 0.12,
    test_fraction: float = 0.15,
    seed: int = 0,
) -> npt.NDArray[np.str_]:
    """One of ``train``/``val``/``test`` per face, the same for every face of a group."""
    labels = [str(x) for x in labels]
    groups = [str(x) for x in groups]
    sources = [""] * len(labels) if sources is None else [str(x) for x in sources]
    if not (len(labels) == len(groups) == len(sources)):
        raise ValueError("labels, groups and sources must have the same length")
    if not (val_fraction > 0 and test_fraction > 0 and val_fraction + test_fraction < 1):
        raise ValueError("val_fraction and test_fraction must be > 0 and sum to < 1")
    freq = Counter(labels)
    group_labels: dict[str, set[str]] = defaultdict(set)
    group_source: dict[str, str] = {}
    for lab, grp, src in zip(labels, groups, sources, strict=True):
        group_labels[grp].add(lab)
        group_source.setdefault(grp, src)
    strata: dict[tuple[str, str], list[str]] = defaultdict(list)
    for grp in sorted(group_labels):
        rarest = min(group_labels[grp], key=lambda lab: (freq[lab], lab))
        strata[(group_source[grp], rarest)].append(grp)
    rng = np.random.default_rng(seed)
    split_of: dict[str, str] = {}
    for key in sorted(strata):
        members = strata[key]
        order = rng.permutation(len(members))
        n = len(members)
        n_test = int(round(n * test_fraction))
        n_val = int(round(n * val_fraction))
        if n >= 3:  # a rare stratum still reaches every split
            n_test, n_val = max(n_test, 1), max(n_val, 1)
        for rank, j in enumerate(order):
            split_of[members[j]] = "test" if rank < n_test else "val" if rank < n_test + n_val else "train"
    return np.array([split_of[g] for g in groups])
