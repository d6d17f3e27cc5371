"""decart-flow: show control for Decart realtime AI video."""

from __future__ import annotations

__version__ = "0.1.0"

# The show vocabulary is imported lazily so that `decart-flow serve` and the client do not pay for
# the show language at start-up.
_LAZY = {
    "Show": ("decart_flow.show.builder", "Show"),
    "prompt": ("decart_flow.show.builder", "prompt"),
    "image": ("decart_flow.show.builder", "image"),
    "mirror": ("decart_flow.show.builder", "mirror"),
    "audio": ("decart_flow.show.builder", "audio"),
    "wait": ("decart_flow.show.builder", "wait"),
    "log": ("decart_flow.show.builder", "log"),
    "go": ("decart_flow.show.builder", "go"),
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'decart_flow' has no attribute {name!r}")
