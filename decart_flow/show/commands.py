"""`decart-flow validate FILE`: exit 0 when the show is good, 2 with one line per problem."""

from __future__ import annotations

import argparse
import sys

from decart_flow.show.loader import load_show
from decart_flow.show.problems import ShowError


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def validate_command(args: argparse.Namespace) -> int:
    """Check each file named (`file` may be one path or, with `nargs="+"`, a list); 2 if any is bad."""
    from decart_flow.runner.backend import targets_cloud

    files = args.file if isinstance(args.file, (list, tuple)) else [args.file]
    cloud = targets_cloud(getattr(args, "backend", None), getattr(args, "api_key", None))
    results = [_validate_one(str(path), cloud) for path in files]
    return 2 if any(results) else 0


def _validate_one(path: str, cloud: bool = False) -> int:
    try:
        show = load_show(path, cloud=cloud)
    except ShowError as e:
        for problem in e.problems:
            print(problem)
        return 2
    except RecursionError:
        print(f"{path}:1:1: the show is nested too deeply to read")
        return 2
    except Exception as e:  # our bug: still one clean line, never a traceback
        print(f"{path}:1:1: internal error while checking the show ({type(e).__name__}: {e}); please report it")
        return 2
    entries = _count(len(show.timeline), "timeline entry", "timeline entries")
    cues = _count(len(show.cues), "cue", "cues")
    sessions = f"{len(show.sessions)} sessions: {', '.join(show.session_names())}; " if show.several else ""
    print(f"{path}: valid ({sessions}{entries}, {cues})")
    sys.stdout.flush()
    return 0
