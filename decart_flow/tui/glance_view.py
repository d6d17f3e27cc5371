"""A widget drawn from the app's `Glance`, repainted only when what it shows changed.

The app hands every widget a new glance ten times a second; most of them (what is on the glass,
the stream figures) change a few times a minute. Each widget names the part it draws
(`view_key`) and repaints only when that part differs: no repaint, no compositor work.
"""

from __future__ import annotations

from typing import Hashable

from textual.widget import Widget

from .glance import Glance


class GlanceView(Widget):
    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self._glance: Glance | None = None
        self._key: Hashable = None

    @property
    def glance(self) -> Glance | None:
        return self._glance

    @glance.setter
    def glance(self, glance: Glance | None) -> None:
        self._glance = glance
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
