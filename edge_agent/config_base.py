"""What every config section and every plugin registry shares, apart from the full schema
(edge_agent/config.py) so that a plugin package defines its own config models beside its plugins without
importing the schema that includes them.

A plugin's config model names its type once, in its ``type: Literal["..."]`` field; the registries
(``edge_agent.detectors.REGISTRY``, ``edge_agent.sources.SOURCES``) are keyed by it, and the schema's
discriminated unions and error messages are built from the registries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Annotated, Any, TypeVar, Union, get_args

from pydantic import BaseModel, ConfigDict, Field

F = TypeVar("F", bound=Callable[..., Any])


class Section(BaseModel):
    """A config section: unknown keys are errors (a typo must not pass), defaults are validated too."""

    model_config = ConfigDict(extra="forbid", validate_default=True)


def plugin_type(model: type[BaseModel]) -> str:
    """The ``type`` a plugin's config model answers to (its ``Literal`` value)."""
    (name,) = get_args(model.model_fields["type"].annotation)
    return str(name)


def registry(*plugins: tuple[type[BaseModel], F]) -> dict[str, tuple[type[BaseModel], F]]:
    """``{type: (config model, factory)}`` keyed by each model's own ``type``."""
    out = {plugin_type(model): (model, factory) for model, factory in plugins}
    if len(out) != len(plugins):
        raise ValueError(f"two plugins share a type: {[plugin_type(m) for m, _ in plugins]}")
    return out


def tagged_union(models: Iterable[type[BaseModel]]) -> Any:
    """The discriminated union (by ``type``) of a registry's config models, in registry order."""
    return Annotated[Union[tuple(models)], Field(discriminator="type")]  # noqa: UP007 - built at run time
