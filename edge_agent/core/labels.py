"""The product's class labels: the one definition of their ids, names, the violation set and display names.

Everything else derives from here: the payload models (``edge_agent.events``), the model card's and the
trainer's label validation (:func:`check_labels`), the dashboard's queries, roll-up columns and statistics,
and the front end (``dashboard/vocabulary.py`` renders :data:`DISPLAY_NAMES` into every page).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Final, Literal, TypeGuard, cast, get_args

#: A canonical label (the classifier's classes and the payloads' ``verdict``).
Verdict = Literal["with_mask", "without_mask", "mask_incorrect"]
#: The labels that are violations (published as events).
Violation = Literal["without_mask", "mask_incorrect"]

WITH_MASK: Final = "with_mask"
WITHOUT_MASK: Final = "without_mask"
MASK_INCORRECT: Final = "mask_incorrect"

#: Canonical labels, in the classifier's default output order; a label's id is its index here.
LABELS: tuple[str, ...] = get_args(Verdict)
#: Label name -> id (its index in :data:`LABELS`).
LABEL_IDS: Mapping[str, int] = MappingProxyType({label: i for i, label in enumerate(LABELS)})

#: Violations in label order (what the dashboard lists, filters and counts).
VIOLATION_LABELS: tuple[str, ...] = tuple(label for label in LABELS if label in get_args(Violation))
#: Verdicts that are violations (published as events).
VIOLATIONS: frozenset[str] = frozenset(VIOLATION_LABELS)

#: What a person reads for each label (dashboard pages, charts, exports). The English text is also the
#: translation key (the gettext msgid) of the label's name.
DISPLAY_NAMES: Mapping[str, str] = MappingProxyType({
    WITH_MASK: "mask",
    WITHOUT_MASK: "no mask",
    MASK_INCORRECT: "mask worn incorrectly",
})

if (WITH_MASK, WITHOUT_MASK, MASK_INCORRECT) != LABELS or set(DISPLAY_NAMES) != set(LABELS) \
        or not set(LABELS) > VIOLATIONS:  # pragma: no cover - a definition error, caught on import
    raise AssertionError("edge_agent.core.labels: the label constants, Verdict, Violation and DISPLAY_NAMES disagree")


def is_violation(label: str) -> TypeGuard[Violation]:
    """Whether ``label`` is a violation (an event is published for it)."""
    return label in VIOLATIONS


class UnknownLabelError(ValueError):
    """A data set label that maps to none of the canonical labels."""


def check_labels(labels: Sequence[str]) -> list[Verdict]:
    """A model's classes in output order: 2 or more distinct canonical labels (model card, trainer options)."""
    out = list(labels)
    bad = [label for label in out if label not in LABELS]
    if bad or len(set(out)) != len(out) or len(out) < 2:
        raise ValueError(f"labels must be 2+ distinct values of {list(LABELS)}, got {out}")
    return cast(list[Verdict], out)


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
