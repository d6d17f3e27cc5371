"""What Decart's cloud cannot play: checked when a show is meant for it, before anything runs.

The cloud retired the 2025 models in 2026 and with them every audio feature; the local service
still serves them, so these are problems only when the backend is the cloud.
"""

from __future__ import annotations

from decart_flow.realtime import models
from decart_flow.engine.actions import action_kind
from decart_flow.show.model import ShowModel
from decart_flow.show.problems import Problem


def cloud_problems(show: ShowModel) -> list[Problem]:
    """One problem per thing the cloud would refuse: a retired model (of any session), each action its
    kind says the cloud refuses (`audio:`)."""
    problems: list[Problem] = []
    for session in show.sessions:  # each session's model (a one-session show's is the top-level `model:`)
        model = models.find(session.model)
        if model is not None and model.retired:
            instead = (
                f"use {model.successor}" if model.successor
                else "no model of today animates a portrait from audio; play it on the local service (no --api-key)"
            )
            problems.append(Problem(session.model_where,
                                    f"model: {session.model} was retired by Decart in 2026; {instead}"))
    for action in show.written_actions():
        problem = action_kind(action).cloud_problem(action)
        if problem:
            problems.append(Problem(action.where, problem))
    return problems

