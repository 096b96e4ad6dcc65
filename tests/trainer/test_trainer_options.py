"""Trainer options: config section + CLI overrides, with errors that name the key."""

import argparse

import pytest

from edge_agent.config import ConfigError
from trainer import cli
from trainer.options import parse_options


def test_defaults_train_on_both_shared_sets():
    opts = parse_options({})
    assert [s.type for s in opts.sources] == ["voc", "folders"]
    assert opts.labels == ["with_mask", "without_mask", "mask_incorrect"]


def test_overrides_win_and_none_is_ignored():
    opts = parse_options({"epochs": 5, "alpha": 0.5, "augment": {"blur": 0.0}},
                         {"epochs": 2, "alpha": None, "augment": {"jpeg": 0.0}})
    assert (opts.epochs, opts.alpha, opts.augment.blur, opts.augment.jpeg) == (2, 0.5, 0.0, 0.0)


@pytest.mark.parametrize(("section", "key"), [
    ({"epoks": 3}, "epoks"),
    ({"input_size": 8}, "input_size"),
    ({"labels": ["with_mask", "beard"]}, "labels"),
    ({"sources": [{"type": "csv", "path": "x"}]}, "sources"),
    ({"augment": {"flip": 2}}, "augment.flip"),
])
def test_bad_options_name_the_key(section, key):
    with pytest.raises(ConfigError, match=key.split(".")[0]):
        parse_options(section)


def test_cli_flags_become_options(tmp_path):
    cfg = tmp_path / "config.yaml"
    cfg.write_text("trainer:\n  epochs: 9\n  seed: 5\n")
    p = argparse.ArgumentParser()
    cli.add_arguments(p)
    args = p.parse_args(["--config", str(cfg), "--epochs", "3", "--voc", "d/voc", "--max-per-class", "10", "--no-augment",
                         "--split-seed", "11"])
    opts = cli.build_options(args)
    assert (opts.epochs, opts.seed, opts.split_seed, opts.augment.enabled) == (3, 5, 11, False)
    assert [(s.type, str(s.path), s.max_per_class) for s in opts.sources] == [("voc", "d/voc", 10)]


def test_default_recipe_is_the_pretrained_efficientnet_and_none_means_from_scratch():
    opts = parse_options({})
    assert (opts.architecture, opts.weights, opts.select) == ("efficientnet_lite0", "imagenet", "loss")
    for spelled in ("none", "None", "scratch", ""):
        assert parse_options({"weights": spelled}).weights is None
    assert parse_options({"weights": "runs/a/model.keras"}).weights == "runs/a/model.keras"
    with pytest.raises(ConfigError, match="select"):
        parse_options({"select": "best"})


def test_fitting_on_validation_needs_the_last_epoch():
    opts = parse_options({"fit_on": "train+val", "select": "last"})
    assert opts.fit_on == "train+val"
    with pytest.raises(ConfigError, match="select 'last'"):
        parse_options({"fit_on": "train+val"})  # default select: loss, which would pick an epoch by trained-on faces
    with pytest.raises(ConfigError, match="patience"):
        parse_options({"fit_on": "train+val", "select": "last", "patience": 3})
    with pytest.raises(ConfigError, match="fit_on"):
        parse_options({"fit_on": "everything"})
