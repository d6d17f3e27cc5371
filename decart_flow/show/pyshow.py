"""Load a Python show: import the module, take its module-level `show`, compile it.

Whatever goes wrong while importing becomes one `FILE:LINE:COL:` problem (the syntax error's
position, or the deepest line of the show file in the traceback), never a traceback.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys

from decart_flow.show.builder import Show
from decart_flow.show.compile import Compiler
from decart_flow.show.model import ShowModel, Where
from decart_flow.show.problems import Problem, ShowError


def load_python_show(label: str) -> ShowModel:
    path = os.path.abspath(label)
    module_name = "_decart_flow_show_" + hashlib.sha1(path.encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(module_name, label)
    if spec is None or spec.loader is None:
        raise ShowError([Problem(Where(label, 1, 1), "cannot import this file as Python")])
    module = importlib.util.module_from_spec(spec)
    folder = os.path.dirname(path)
    sys.modules[module_name] = module
    sys.path.insert(0, folder)
    real_exit = os._exit
    os._exit = _exit_at_import  # type: ignore[assignment]  # the show may not end the process loading it
    try:
        spec.loader.exec_module(module)
    except ShowError:
        raise
    except ExitAtImport as e:
        message = f"the show calls os._exit({e.code}) while it is imported: a show file only builds `show`"
        raise ShowError([Problem(_where_in(e, label, path), message)]) from None
    except SyntaxError as e:
        where = Where(e.filename or label, e.lineno or 1, e.offset or 1)
        if e.filename and os.path.abspath(e.filename) == path:
            where = Where(label, e.lineno or 1, e.offset or 1)
        raise ShowError([Problem(where, f"{type(e).__name__}: {e.msg}")]) from None
    except (Exception, SystemExit) as e:
        raise ShowError([Problem(_where_in(e, label, path), f"{type(e).__name__}: {e}")]) from None
    finally:
        os._exit = real_exit  # type: ignore[assignment]
        sys.modules.pop(module_name, None)
        if folder in sys.path:
            sys.path.remove(folder)
    show = getattr(module, "show", None)
    if not isinstance(show, Show):
        found = "no module-level `show`" if show is None else f"`show` is a {type(show).__name__}"
        raise ShowError([Problem(Where(label, 1, 1), f"{found}: write `show = Show(\"Name\", model=\"mirage_v2\")`")])
    compiler = Compiler(label)
    compiler.problems.extend(show.problems)
    return compiler.compile(show.document())


class ExitAtImport(BaseException):
    """`os._exit()` called by a Python show while it was imported (validate would end with 0, silently)."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def _exit_at_import(code: int = 0) -> None:
    raise ExitAtImport(code)


def _where_in(error: BaseException, label: str, path: str) -> Where:
    """The deepest traceback line inside the show file (else its first line)."""
    where = Where(label, 1, 1)
    tb = error.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        if os.path.abspath(code.co_filename) == path:
            col = 1
            try:
                col = (list(code.co_positions())[tb.tb_lasti // 2][2] or 0) + 1
            except Exception:  # the column is a nicety
                pass
            where = Where(label, tb.tb_lineno, col)
        tb = tb.tb_next
    return where
