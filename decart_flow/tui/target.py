"""Which session a typed prompt or a chosen image goes to, in a show of several sessions.

The prompt box and the image chooser put this under their input: `all sessions` (the default:
every session that can take it) and then each session by name; tab reaches it, the arrows and
enter or space pick, and the dialog goes back to its input; or ctrl+t, without leaving the input,
steps to the next choice. A one-session show has none, and its dialogs ask nothing.
"""

from __future__ import annotations

from textual.widgets import RadioButton, RadioSet

ALL = "all sessions"


class TargetChooser(RadioSet):
    def __init__(self, sessions: tuple[str, ...]) -> None:
        self.sessions = sessions
        self._stepped: int | None = None  # the choice ctrl+t made last, before the set has heard of it
        super().__init__(RadioButton(ALL, value=True), *(RadioButton(name) for name in sessions), id="to")

    def step(self) -> None:
        """ctrl+t: the next choice (after the last session, all sessions again). The set learns of a
        pressed button by a message, so ctrl+t pressed quickly counts from the choice it made last."""
        buttons = list(self.query(RadioButton))
        index = (self.pressed_index if self._stepped is None else self._stepped) + 1
        self._stepped = index % len(buttons)
        buttons[self._stepped].value = True

    def on_radio_set_changed(self, event: RadioSet.Changed) -> None:
        if event.index == self._stepped or self._stepped is None:
            self._stepped = None  # the set has caught up (or the arrows chose): it knows best again

    @property
    def target(self) -> tuple[str, ...] | None:
        """None for every session, else the one session picked."""
        index = self.pressed_index if self._stepped is None else self._stepped
        return None if index <= 0 else (self.sessions[index - 1],)
