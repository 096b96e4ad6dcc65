"""Run outputs: training curves and confusion matrix (PNG), model card Markdown."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def plot_curves(history: Sequence[dict[str, float]], path: Path, best_epoch: int | None = None) -> None:
    epochs = [h["epoch"] for h in history]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot(epochs, [h["accuracy"] for h in history], label="train (augmented)")
    ax1.plot(epochs, [h["val_accuracy"] for h in history], label="validation")
    ax1.plot(epochs, [h["val_balanced_recall"] for h in history], label="validation balanced recall", ls="--")
    ax1.set_title("accuracy")
    ax2.plot(epochs, [h["loss"] for h in history], label="train (augmented)")
    ax2.plot(epochs, [h["val_loss"] for h in history], label="validation")
    ax2.set_title("loss")
    for ax in (ax1, ax2):
        if best_epoch:
            ax.axvline(best_epoch, color="grey", lw=0.8, ls=":", label=f"kept: epoch {best_epoch}")
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_confusion(matrix: Sequence[Sequence[int]], labels: Sequence[str], path: Path, title: str) -> None:
    m = np.asarray(matrix)
    fig, ax = plt.subplots(figsize=(5, 4.4))
    norm = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            ax.text(j, i, f"{m[i, j]}\n{norm[i, j]:.1%}", ha="center", va="center",
                    color="white" if norm[i, j] > 0.5 else "black", fontsize=9)
    ax.set_xticks(range(len(labels)), labels, rotation=20)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _pct(v: Any) -> str:
    return "n/a" if v is None else f"{100 * float(v):.2f}%"


def _fig(v: Any) -> str:
    return "n/a" if v is None else f"{float(v):.4f}"


def card_markdown(card: dict[str, Any]) -> str:
    m = card["metrics"]
    i8, fl = m["int8"]["test"], m["float"]["test"]
    lines = [
        f"# Model card: {card['name']}",
        "",
        f"Mask classifier for MaskWatch, trained by `maskwatch train` (trainer {card['trainer_version']}) "
        f"on {card['created']}.",
        "",
        f"- Classes (output order): {', '.join(f'`{x}`' for x in card['labels'])}",
        f"- Input: {card['input_size']}x{card['input_size']} {card['input_color']}, {card['normalisation']}",
        f"- Crop: `edge_agent.core.crop.crop_face` with size {card['crop']['size']}, margin {card['crop']['margin']}",
        f"- Network: {card['architecture']}, {card['parameters']:,} parameters; "
        f"int8 file `{card['model_file']}` {card['model_bytes']:,} bytes ({card['quantization']})",
        "",
        "## Test split (held out, grouped by source photo)",
        "",
        "| | float | int8 |",
        "|---|---|---|",
        f"| accuracy | {_pct(fl['accuracy'])} | {_pct(i8['accuracy'])} |",
        f"| accuracy, darkened copy | {_pct(m['float']['test_dark']['accuracy'])} | {_pct(m['int8']['test_dark']['accuracy'])} |",
    ]
    for label in card["labels"]:
        lines.append(f"| recall `{label}` | {_pct(fl['per_class'][label]['recall'])} | {_pct(i8['per_class'][label]['recall'])} |")
    for src, entry in i8.get("by_source", {}).items():
        lines.append(f"| accuracy on {src} ({entry['n']} faces) | {_pct(fl['by_source'][src]['accuracy'])} | {_pct(entry['accuracy'])} |")
        if "two_class_accuracy" in entry:
            lines.append(f"| two-class accuracy on {src} | {_pct(fl['by_source'][src]['two_class_accuracy'])} "
                         f"| {_pct(entry['two_class_accuracy'])} |")
    lines += [
        "",
        f"float/int8 agreement on the test split: {_pct(m['float_int8_agreement'])}.",
        "",
        "Per class (int8, test):",
        "",
        "| class | precision | recall | F1 | support |",
        "|---|---|---|---|---|",
    ]
    for label, pc in i8["per_class"].items():
        lines.append(f"| {label} | {_fig(pc['precision'])} | {_fig(pc['recall'])} | {_fig(pc['f1'])} | {pc['support']} |")
    lines += ["", "## Data", ""]
    for ds in card["datasets"]:
        lines.append(f"- {ds['source']}: {ds['files']} files, faces {ds['faces']}, dropped {ds['dropped']}, "
                     f"fingerprint `{ds['fingerprint']}`")
    lines.append(f"- split sizes (faces): {card['splits']}")
    if card.get("fit_on", "train") != "train":
        lines.append(f"- fitted on: {card['fit_on']} (validation figures in metrics.json are not held out; test ones are)")
    lines += ["", "## Training", "", f"Kept epoch {card['training']['best_epoch']} of {card['training']['epochs_run']}, "
              f"{card['training']['seconds']:.0f} s. Options:", "", "```json", card["training"]["options_json"], "```", ""]
    if card.get("command"):
        lines += ["Reproduce with:", "", "```", card["command"], "```", ""]
    return "\n".join(lines)
