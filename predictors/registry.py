"""One registry of predictors by name, and loading a saved predictor.

Adding a predictor = one module with a :class:`~predictors.base.Predictor` subclass decorated with
``@register_predictor("name")`` plus one import line in ``predictors/__init__.py``; the common contract tests
pick it up from :func:`list_predictors`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from predictors.base import _FORMAT_VERSION, Predictor

__all__ = ["create_predictor", "list_predictors", "load_predictor", "predictor_class", "register_predictor"]

_REGISTRY: dict[str, tuple[type[Predictor], dict[str, Any]]] = {}


def register_predictor(name: str, **defaults: Any) -> Callable[[type[Predictor]], type[Predictor]]:
    """Class decorator registering a predictor under ``name``; ``defaults`` override its constructor defaults.

    One class may be registered under several names with different defaults (e.g. ``brp`` and ``brp_gin``).
    """

    def decorate(cls: type[Predictor]) -> type[Predictor]:
        if not (isinstance(cls, type) and issubclass(cls, Predictor)):
            raise ValueError(f"invalid predictor class for {name!r}: {cls!r}; allowed: a Predictor subclass")
        if name in _REGISTRY:
            raise ValueError(f"invalid predictor name: {name!r} is already registered")
        unknown = set(defaults) - set(cls._get_param_names())
        if unknown:
            raise ValueError(
                f"invalid defaults for {name!r}: {sorted(unknown)}; allowed: {cls._get_param_names()}"
            )
        _REGISTRY[name] = (cls, dict(defaults))
        cls._registry_names = (*cls.__dict__.get("_registry_names", ()), name)
        if not cls.registry_name:
            cls.registry_name = name
        return cls

    return decorate


def list_predictors() -> list[str]:
    """Names of every registered predictor, sorted."""
    return sorted(_REGISTRY)


def predictor_class(name: str) -> type[Predictor]:
    """The class registered as ``name``: its traits (``predicts_units``, ``baseline``, ``input_kind``) are
    class attributes."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown predictor: {name!r}; allowed: {list_predictors()}")
    return _REGISTRY[name][0]


def create_predictor(name: str, **kwargs: Any) -> Predictor:
    """A new, unfitted predictor ``name`` with keyword arguments ``kwargs``.

    Example::

        >>> import numpy as np
        >>> from predictors import create_predictor
        >>> X = np.random.default_rng(0).random((40, 5))
        >>> model = create_predictor("xgb", n_estimators=20, random_state=0).fit(X, X @ [1, 2, 3, 4, 5])
        >>> model.predict(X[:3]).shape
        (3,)
    """
    if name not in _REGISTRY:
        raise ValueError(f"unknown predictor: {name!r}; allowed: {list_predictors()}")
    cls, defaults = _REGISTRY[name]
    allowed = cls._get_param_names()
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise ValueError(f"invalid keyword arguments for {name!r}: {unknown}; allowed: {allowed}")
    return cls(**{**defaults, **kwargs})


def load_predictor(path: str | Path) -> Predictor:
    """Load a predictor saved with ``predictor.save(path)`` (no pickle: JSON + native model files)."""
    path = Path(path)
    config_file = path / "config.json"
    if not config_file.is_file():
        raise ValueError(
            f"invalid predictor path: {str(path)!r} has no config.json; allowed: a saved predictor"
        )
    config = json.loads(config_file.read_text())
    if config.get("format_version") != _FORMAT_VERSION:
        raise ValueError(
            f"invalid predictor format_version: {config.get('format_version')!r}; allowed: {_FORMAT_VERSION}"
        )
    model = create_predictor(config["predictor"], **config["params"])
    for key, value in config["fitted"].items():
        setattr(model, key, value)
    _check_model_files(path, config["state"])
    model._load_state(path, config["state"])
    return model


def _check_model_files(path: Path, state: dict) -> None:
    """Every model file a saved config names lies inside the predictor's own folder and exists, so a
    tampered config.json cannot make the loader read a file from anywhere else."""
    files = state.get("files", []) if isinstance(state, dict) else None
    if not isinstance(files, list):
        raise ValueError(
            f"invalid predictor state in {path}: {state!r}; allowed: a 'files' list of model files"
        )
    root = path.resolve()
    for name in files:
        resolved = (root / str(name)).resolve()
        if not isinstance(name, str) or Path(name).is_absolute() or not resolved.is_relative_to(root):
            raise ValueError(
                f"invalid model file {name!r} in {path / 'config.json'}: it lies outside {path}; allowed: a "
                "file inside the predictor's folder"
            )
        if not resolved.is_file():
            raise ValueError(f"invalid predictor path: model file {name!r} is missing from {path}")
