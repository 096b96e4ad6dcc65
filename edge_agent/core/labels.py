"""The product's canonical class labels, and loose matching of the names data sets use."""

from __future__ import annotations

import re

WITH_MASK = "with_mask"
WITHOUT_MASK = "without_mask"
MASK_INCORRECT = "mask_incorrect"

#: Canonical labels, in the classifier's default output order.
LABELS: tuple[str, ...] = (WITH_MASK, WITHOUT_MASK, MASK_INCORRECT)

#: Verdicts that are violations (published as events).
VIOLATIONS: frozenset[str] = frozenset({WITHOUT_MASK, MASK_INCORRECT})


class UnknownLabelError(ValueError):
    """A data set label that maps to none of the canonical labels."""


def canonical_label(name: str) -> str:
    """Map a data set's label or folder name to a canonical label.

    Accepts e.g. ``with_mask``, ``WithMask``, ``mask``, ``without_mask``, ``WithoutMask``, ``no_mask``,
    ``mask_weared_incorrect`` (andrewmvd), ``incorrect_mask``, ``mask_worn_incorrectly``.
    """
    key = re.sub(r"[^a-z]", "", name.lower())
    if not key:
        raise UnknownLabelError(f"empty label {name!r}; allowed: {', '.join(LABELS)}")
    if any(word in key for word in ("incorrect", "improper", "wrong", "badly")):
        return MASK_INCORRECT
    if "without" in key or key.startswith("no") or key in {"unmasked", "nomask", "face"}:
        return WITHOUT_MASK
    if key.startswith("with") or key in {"mask", "masked", "maskon"}:
        return WITH_MASK
    raise UnknownLabelError(f"unknown label {name!r}; allowed: {', '.join(LABELS)} (or a close variant)")
