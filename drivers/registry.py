"""Drivers by name. Each driver module registers its class; backends name a driver."""

from __future__ import annotations

from importlib import import_module

from django.conf import settings

from drivers.base import Driver

_CLASSES: dict[str, type[Driver]] = {}
_INSTANCES: dict[str, Driver] = {}


def register(name: str):
    """Class decorator: make a driver available to backends under ``name``."""

    def decorator(cls: type[Driver]) -> type[Driver]:
        cls.name = name
        _CLASSES[name] = cls
        return cls

    return decorator


def _load() -> None:
    for module in settings.DRIVER_MODULES:
        import_module(module)


def driver_names() -> list[str]:
    _load()
    return sorted(_CLASSES)


def get_driver(name: str) -> Driver:
    """The process-wide instance of driver ``name`` (built once, so its caches live on)."""
    if name not in _INSTANCES:
        _load()
        _INSTANCES[name] = _CLASSES[name]()
    return _INSTANCES[name]
