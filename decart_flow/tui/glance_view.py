"""A widget drawn from the app's `Glance`, repainted only when what it shows changed.

`glance` is a reactive attribute the app sets from its own (`FlowApp.watch_glance`), a new glance ten
times a second; most widgets draw a part that changes a few times a minute (what is on the glass,
the stream figures). Each names that part (`view_key`) and repaints only when it differs: no
repaint, no compositor work.
"""

from __future__ import annotations

from typing import Hashable

from textual.reactive import reactive
from textual.widget import Widget

from .glance import Glance, focus


class GlanceView(Widget):
    glance: reactive[Glance | None] = reactive(None, repaint=False)  # watch_glance decides

    def __init__(self, *, id: str | None = None, session: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self._key: Hashable = None
        #: in a show of several sessions, the one this widget draws (it sees `focus(glance, session)`)
        self.session = session

    def watch_glance(self, glance: Glance | None) -> None:
        if glance is not None and self.session is not None:
            glance = focus(glance, self.session)
            self.set_reactive(GlanceView.glance, glance)  # render() reads the session's glance
        key = None if glance is None else self.view_key(glance)
        if key != self._key:
            self._key = key
            self.changed(glance)

    def changed(self, glance: Glance | None) -> None:
        """What it shows changed: repaint in place (never a layout)."""
        self.refresh()

    def view_key(self, glance: Glance) -> Hashable:
        """The part of the glance this widget draws (equal keys draw the same)."""
        return glance
