"""The kinds' registries are the one place a trigger or action kind is known.

Every kind of the show model has an entry; the compiler's keys, the Python builder's calls and
catch-up's state keys all come from the entries, so a kind added there is a kind everywhere.
"""

from __future__ import annotations

import typing

from decart_flow.engine import actions, triggers
from decart_flow.show import builder, compile as compiler
from decart_flow.show.model import Action, Trigger


def test_every_trigger_and_action_of_the_model_has_a_kind() -> None:
    for model in typing.get_args(Trigger):
        assert any(k.model is model for k in triggers.REGISTRY), model
    for model in typing.get_args(Action):
        assert any(k.model is model for k in actions.REGISTRY), model


def test_the_compiler_reads_the_keys_the_kinds_own() -> None:
    for kind in triggers.REGISTRY:
        if not kind.key.startswith("<"):
            assert kind.key in compiler.TRIGGER_KEYS and kind.key in compiler.CUE_KEYS
        for key in kind.companions:
            assert key in compiler.CUE_KEYS
    for kind in actions.REGISTRY:
        for key in kind.keys + kind.companions:
            assert key.startswith("<") or key in compiler.ACTION_KEYS


def test_the_builder_offers_each_kinds_python_call() -> None:
    show = builder.Show("x", model="mirage")
    for kind in triggers.REGISTRY:
        if kind.python:
            assert callable(getattr(show, kind.python))
    for kind in actions.REGISTRY:
        if kind.python:
            assert getattr(builder, kind.python) is kind.build
    assert not hasattr(show, "nonsense")


def test_catch_up_sends_image_before_prompt() -> None:
    keys = actions.catch_up_keys()
    assert keys[:3] == ("image", "prompt", "mirror")
