"""ShowState and the cue list as JSON, for the HTTP API and the live channel."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from ..engine.engine import timeline_name
from ..engine.state import ShowState
from ..show.model import ShowModel


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def state_json(state: ShowState) -> dict[str, Any]:
    data = _plain(dataclasses.asdict(state))
    data["t"] = round(state.t, 3)
    return data


def cues_json(show: ShowModel) -> list[dict[str, Any]]:
    """The timeline GO walks through: what the remote page lists with NOW and next."""
    return [{"index": i, "t": e.t, "label": e.label or timeline_name(e)} for i, e in enumerate(show.timeline)]
