"""`run --node NAME --broker URL` checked before anything starts: one line when it cannot work.

Kept apart from the fleet's wire code, so a run without `--node` imports no MQTT client.
"""

from __future__ import annotations

from ..show.model import ShowModel
from ..show.problems import did_you_mean


def fleet_problem(show: ShowModel, node: str | None, broker: str | None, token: bool = False) -> str | None:
    """Why `--node`/`--broker` (`--fleet-token`) cannot run this show, or None."""
    if node is None and broker is None:
        return "--fleet-token goes with --node NAME --broker mqtt://HOST:PORT" if token else None
    if node is None or broker is None:
        return "--node and --broker go together: run SHOW --node NAME --broker mqtt://HOST:PORT"
    if not show.nodes:
        return f"--node {node}: the show has no `nodes:`; add one, e.g. nodes: {{{node}: [main]}}"
    if node not in show.nodes:
        hint = did_you_mean(node, show.nodes)
        return f"--node {node}: not a node of this show{hint}; its nodes are {', '.join(show.nodes)}"
    from .broker import FleetError, broker_from_url

    try:
        broker_from_url(broker)
    except FleetError as exc:
        return str(exc)
    return None
