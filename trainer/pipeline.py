"""One training run end to end: data -> train -> float metrics -> int8 -> int8 metrics (agent's runtime) -> card."""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from edge_agent.model_card import CardMetrics, CropCard, DatasetCard, ModelCard, SyntheticCard, TrainingCard
from trainer import __version__
from trainer.augment import darkened_copy
from trainer.data import SplitData, load_data
from trainer.dataset import FaceSet
from trainer.evaluate import agreement, metrics
from trainer.importers import FaceFinder
from trainer.options import TrainerOptions

log = logging.getLogger(__name__)

MODEL_FILE = "mask_classifier_int8.tflite"
CARD_FILE = "model_card.json"
#: Files a run writes that make up a shippable model (copied by ``--export``).
EXPORT_FILES = (MODEL_FILE, CARD_FILE, "model_card.md", "labels.txt", "curves.png", "confusion_matrix.png",
                "confusion_matrix.json", "metrics.json")


def _int8_probs(card_path: Path, images: np.ndarray) -> np.ndarray:
    from edge_agent.classifier import Classifier

    clf = Classifier(card_path, threads=1)
    return np.concatenate([clf.predict_proba(images[i:i + 64]) for i in range(0, len(images), 64)]) \
        if len(images) else np.empty((0, len(clf.labels)), np.float32)


def _evaluate(predict: Any, data: SplitData, labels: list[str], seed: int) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    probs = {
        "val": predict(data.val.exact),
        "test": predict(data.test.exact),
        "test_dark": predict(darkened_copy(data.test.exact, seed)),
    }
    out = {name: metrics(p, (data.val if name == "val" else data.test).labels, labels,
                         (data.val if name == "val" else data.test).sources) for name, p in probs.items()}
    return out, probs


def _architecture(opts: TrainerOptions) -> str:
    from trainer.efficientnet_lite import pretrained_source

    if opts.architecture == "mobilenetv2":
        return f"mobilenetv2 alpha {opts.alpha}"
    if opts.architecture == "efficientnet_lite0":
        return f"efficientnet_lite0 first {opts.blocks} blocks, head {opts.head_filters}" + \
            (" (ImageNet-pretrained)" if pretrained_source(opts.weights) else "")
    return opts.architecture


def build_card(opts: TrainerOptions, name: str, parameters: int, data: SplitData, tflite: bytes,
               command: str | None) -> ModelCard:
    """The card of a run before its int8 figures exist (the agent's loader needs it to evaluate the model)."""
    from trainer.model import NORMALISATION

    return ModelCard(
        name=name,
        model_file=MODEL_FILE,
        labels=list(opts.labels),
        crop=CropCard(size=opts.input_size, margin=opts.crop_margin),
        input_size=opts.input_size,
        input_color="RGB",
        normalisation=NORMALISATION,
        quantization="full-integer int8 (weights, activations, int8 input and output); calibrated on "
                     f"{opts.representative_per_class} training crops per class",
        architecture=_architecture(opts),
        parameters=parameters,
        model_bytes=len(tflite),
        trainer_version=__version__,
        created=dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        datasets=[DatasetCard.model_validate(r) for r in data.reports],
        splits={k: dict(Counter(getattr(data, k).labels.tolist())) for k in ("train", "val", "test")},
        fit_on=opts.fit_on,
        synthetic_training_faces=SyntheticCard(
            mask_incorrect=opts.synthetic_masks, with_mask=opts.synthetic_masks,
            transplanted_fraction=opts.synthetic_transplant,
            drawn_on=f"without_mask faces of the fitted split ({opts.fit_on}; trainer/synthetic.py)"),
        command=command,
    )


def finish_card(card: ModelCard, metrics: dict[str, Any], fit: Any, opts: TrainerOptions) -> ModelCard:
    """The card with its typed metrics and training sections (validated here: a wrong shape fails the run)."""
    return card.model_copy(update={
        "metrics": CardMetrics.model_validate(metrics),
        "training": TrainingCard(best_epoch=fit.best_epoch, epochs_run=len(fit.history), seconds=round(fit.seconds, 1),
                                 history=fit.history, options=json.loads(opts.model_dump_json()),
                                 options_json=opts.model_dump_json(indent=2)),
    })


def _with_synthetic(train_set: FaceSet, opts: TrainerOptions) -> FaceSet:
    """The training faces plus ``opts.synthetic_masks`` drawn masks of each kind (trainer/synthetic.py)."""
    from edge_agent.core.crop import CropSpec
    from trainer.dataset import context_spec
    from trainer.synthetic import synthetic_masked

    if not opts.synthetic_masks:
        return train_set
    ctx = context_spec(CropSpec(opts.input_size, opts.crop_margin))
    inner = opts.input_size / train_set.context.shape[1]
    synth = synthetic_masked(train_set, opts.synthetic_masks, opts.input_size, inner, ctx.margin, opts.seed,
                             opts.synthetic_transplant)
    return FaceSet.concat([train_set, synth])


def fit_faces(data: SplitData, opts: TrainerOptions) -> FaceSet:
    """The real faces the model is fitted on (``fit_on``): the training split, or training + validation."""
    if opts.fit_on == "train":
        return data.train
    log.info("fitting on train + validation (%d + %d faces): validation figures are not held out, test ones are",
             len(data.train), len(data.val))
    return FaceSet.concat([data.train, data.val])


def run_training(opts: TrainerOptions, name: str, command: str | None = None, finder: FaceFinder | None = None,
                 export_to: Path | None = None) -> Path:
    """Train and write ``runs/<name>/``; returns the run folder."""
    from trainer.convert import balanced_representative, to_int8_tflite
    from trainer.fit import train
    from trainer.report import card_markdown, plot_confusion, plot_curves

    run_dir = opts.runs_dir / name
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "options.json").write_text(opts.model_dump_json(indent=2))
    data = load_data(opts, finder)
    fit_set = fit_faces(data, opts)
    fit = train(_with_synthetic(fit_set, opts), data.val, opts)
    fit.model.save(run_dir / "model.keras")
    labels = list(opts.labels)

    float_metrics, float_probs = _evaluate(lambda x: fit.model.predict(x.astype(np.float32), batch_size=256, verbose=0),
                                           data, labels, opts.seed)
    log.info("float test accuracy %s, darkened %s", float_metrics["test"]["accuracy"], float_metrics["test_dark"]["accuracy"])

    index = {label: i for i, label in enumerate(labels)}
    y_train = np.array([index[x] for x in fit_set.labels], np.int64)
    rep = balanced_representative(fit_set.exact, y_train, opts.representative_per_class, opts.seed)
    tflite = to_int8_tflite(fit.model, rep)
    (run_dir / MODEL_FILE).write_bytes(tflite)
    (run_dir / "labels.txt").write_text("\n".join(labels) + "\n")
    card = build_card(opts, name, int(fit.model.count_params()), data, tflite, command)
    card_path = run_dir / CARD_FILE
    card.write(card_path)  # the agent's loader needs it to evaluate the int8 model

    int8_metrics, int8_probs = _evaluate(lambda x: _int8_probs(card_path, x), data, labels, opts.seed)
    agree = agreement(float_probs["test"], int8_probs["test"])
    log.info("int8 test accuracy %s, darkened %s, float/int8 agreement %s (%d bytes)",
             int8_metrics["test"]["accuracy"], int8_metrics["test_dark"]["accuracy"], agree, len(tflite))
    all_metrics = {"float": float_metrics, "int8": int8_metrics, "float_int8_agreement": agree,
                   "fit_on": opts.fit_on, "val_held_out": opts.fit_on == "train"}
    card = finish_card(card, all_metrics, fit, opts)
    card.write(card_path)
    card_json = json.loads(card.to_json())
    (run_dir / "model_card.md").write_text(card_markdown(card_json))
    (run_dir / "metrics.json").write_text(json.dumps({"model_bytes": len(tflite), **card_json["metrics"]}, indent=2))
    (run_dir / "confusion_matrix.json").write_text(json.dumps(
        {"split": "test", "model": "int8", **int8_metrics["test"]["confusion"]}, indent=2))
    plot_curves(fit.history, run_dir / "curves.png", fit.best_epoch)
    plot_confusion(int8_metrics["test"]["confusion"]["rows_true_cols_pred"], labels, run_dir / "confusion_matrix.png",
                   f"int8, test split (accuracy {int8_metrics['test']['accuracy']:.2%})")
    if export_to is not None:
        export(run_dir, export_to)
    return run_dir


def export(run_dir: Path, target: Path) -> None:
    """Copy a run's shippable files (model, card, label map, plots, metrics) into ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    for f in EXPORT_FILES:
        shutil.copy2(run_dir / f, target / f)
    log.info("exported %s to %s", run_dir, target)


def split_faces(data: SplitData, name: str) -> FaceSet:
    return {"train": data.train, "val": data.val, "test": data.test}[name]
