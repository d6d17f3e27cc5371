"""`i`: choose a reference image: the images next to the show, or a path typed with completion.

Relative paths are read from the show's folder, as in the show file. `none` clears the image.
In a show of several sessions it also asks which session: all by default.
"""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widgets import Input, Label, OptionList

from .target import TargetChooser

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif")
CLEAR = "none"


def images_near(folder: Path, limit: int = 200) -> list[str]:
    """Images in the show's folder and its subfolders (two levels), as paths relative to it."""
    found: list[str] = []
    for pattern in ("*", "*/*", "*/*/*"):
        for path in sorted(folder.glob(pattern)):
            if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
                found.append(path.relative_to(folder).as_posix())
                if len(found) >= limit:
                    return found
    return found


class PathSuggester(Suggester):
    """Completes the typed path with the first matching folder or image under the show's folder."""

    def __init__(self, base: Path) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self.base = base

    async def get_suggestion(self, value: str) -> str | None:
        if not value:
            return None
        head, _, stem = value.rpartition("/")
        folder = (self.base / head) if head else self.base
        if value.startswith("/"):
            folder = Path(head or "/")
        try:
            entries = sorted(folder.iterdir())
        except OSError:
            return None
        for entry in entries:
            if entry.name.startswith(stem) and entry.name != stem:
                if entry.is_dir():
                    return f"{head}/{entry.name}/" if head else f"{entry.name}/"
                if entry.suffix.lower() in IMAGE_SUFFIXES:
                    return f"{head}/{entry.name}" if head else entry.name
        return None


def resolve_image(text: str, base: Path) -> tuple[str | None, str | None]:
    """(absolute path, URL or None to clear, error): checked as the show's own images are.

    A URL is fetched here (blocking: call it off the screen's loop); the run then sends what was fetched.
    """
    from ..show import checks

    text = text.strip()
    if text.lower() in (CLEAR, "null", "clear"):
        return None, None
    if "://" in text:
        if not checks.is_url(text):
            return None, f"{text}: only http(s) URLs"
        problem = checks.url_image_problem(text)
        return (None, f"{text}: {problem}") if problem else (text, None)
    path = Path(text).expanduser()
    path = path if path.is_absolute() else base / path
    if path.is_dir():
        return None, f"{text}: is a folder; pick an image in it"
    if not path.is_file():
        return None, f"{text}: no such file"
    problem = checks.image_problem(str(path.resolve()))
    if problem:
        return None, f"{text}: not an image we can send: {problem}"
    return str(path.resolve()), None


class ImageChooser(ModalScreen[tuple[str | None] | tuple[str | None, tuple[str, ...] | None] | None]):
    """Dismisses with `(path,)`, `(None,)` to clear, or None when cancelled; in a show of several
    sessions `(path, to)`, `to` the session it goes to (None: every session)."""

    BINDINGS = [
        Binding("escape", "dismiss(None)", "cancel"),
        Binding("tab", "complete", "complete", priority=True),
        Binding("down", "to_list", "list", show=False),
        Binding("ctrl+t", "next_target", "next session", priority=True),
    ]

    def __init__(self, base: Path, sessions: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.base = base
        self.sessions = sessions
        self.choices = images_near(base)
        self.problem = ""  # what is wrong with the last choice, as shown under the list

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(f"Reference image (tab completes; '{CLEAR}' clears; escape cancels)", classes="title")
            yield Input(placeholder="refs/picture.png", suggester=PathSuggester(self.base), id="path")
            yield OptionList(*self.choices, id="choices")
            if self.sessions:
                yield Label("to (ctrl+t, or tab and the arrows):")
                yield TargetChooser(self.sessions)
            yield Label("", id="problem")

    def action_complete(self) -> None:
        """Tab takes the completion shown (the Input's cursor-right at the end does that); with none
        shown, or away from the path, it moves on (to the list, then to the session chooser)."""
        path = self.query_one("#path", Input)
        suggestion = getattr(path, "_suggestion", "")  # Textual's shown completion, if any
        if self.focused is path and suggestion and suggestion != path.value:
            path.action_end()
            path.action_cursor_right()
        else:
            self.focus_next()

    def action_to_list(self) -> None:
        if self.choices:
            self.query_one("#choices", OptionList).focus()

    def action_next_target(self) -> None:
        if self.sessions:
            self.query_one(TargetChooser).step()

    def on_radio_set_changed(self, event: TargetChooser.Changed) -> None:
        """A session picked: back to the path, where enter chooses."""
        self.query_one("#path", Input).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self._choose(str(event.option.prompt))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.value.strip():
            self._choose(event.value)

    def _choose(self, text: str) -> None:
        self.problem = ""
        if "://" in text:  # fetched on a thread: the screen keeps painting meanwhile
            self.query_one("#problem", Label).update(f"fetching {text.strip()}…")
            self.run_worker(lambda: self._checked(text), thread=True, exclusive=True)
        else:
            self._decide(*resolve_image(text, self.base))

    def _checked(self, text: str) -> None:
        path, problem = resolve_image(text, self.base)
        self.app.call_from_thread(self._decide, path, problem)

    def _decide(self, path: str | None, problem: str | None) -> None:
        if problem is not None:
            self.problem = problem
            label = self.query_one("#problem", Label)
            label.update(problem)
            label.display = True
            self.query_one("#path", Input).focus()
            return
        if self.sessions:
            self.dismiss((path, self.query_one(TargetChooser).target))
        else:
            self.dismiss((path,))
