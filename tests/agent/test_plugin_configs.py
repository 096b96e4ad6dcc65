"""Plugins own their config models: the registries are keyed by each model's own ``type``, and the config
schema's unions and error messages are built from the registries."""

from __future__ import annotations

from typing import Literal, get_args

import pytest

from edge_agent import config
from edge_agent.config import ConfigError, parse_config
from edge_agent.config_base import Section, plugin_type, registry
from edge_agent.detectors import REGISTRY
from edge_agent.sources import SOURCES


def _members(union: object) -> tuple[type, ...]:
    return get_args(get_args(union)[0])


@pytest.mark.parametrize(("union", "plugins"), [(config.DetectorConfig, REGISTRY), (config.SourceConfig, SOURCES)])
def test_the_union_is_the_registry(union: object, plugins: dict[str, tuple[type, object]]) -> None:
    assert _members(union) == tuple(model for model, _ in plugins.values())
    assert list(plugins) == [plugin_type(model) for model, _ in plugins.values()]


def test_plugin_config_models_live_beside_their_plugins() -> None:
    assert {m.__module__ for m, _ in REGISTRY.values()} == {"edge_agent.detectors.configs"}
    assert {m.__module__ for m, _ in SOURCES.values()} == {"edge_agent.sources.configs"}
    assert set(REGISTRY) | set(SOURCES) == config.PLUGIN_TYPES


def test_a_registry_refuses_two_plugins_of_one_type() -> None:
    class A(Section):
        type: Literal["same"]

    class B(Section):
        type: Literal["same"]

    with pytest.raises(ValueError, match="share a type"):
        registry((A, None), (B, None))


def test_an_unknown_type_error_lists_the_registered_ones() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config({"detector": {"type": "haar"}})
    assert all(repr(name) in str(err.value) for name in REGISTRY)
    with pytest.raises(ConfigError) as err:  # the branch name is not part of the key path
        parse_config({"detector": {"type": "fake", "boxs": []}})
    assert "detector.boxs: unknown key" in str(err.value)


def test_detect_profiles_name_registered_detectors() -> None:
    """``maskwatch detect --detector`` offers the detectors with a still-image profile, each a registered type
    whose config model takes the profile's settings."""
    from edge_agent.commands.detect import ACCURACY_PROFILE

    assert set(ACCURACY_PROFILE) <= set(REGISTRY)
    for kind, settings in ACCURACY_PROFILE.items():
        REGISTRY[kind][0].model_validate({"type": kind, **settings})
