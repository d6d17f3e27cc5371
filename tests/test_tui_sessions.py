"""The TUI of a show of several sessions: a column per session (tabs past three), GO and pause
show-wide, and the prompt box and the image chooser asking which session.

One test plays a two-session show on the real local service; the others draw a fixed moment.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from test_tui_fixtures import WALL, still_frame
from test_tui_keys import play, wait_for

from decart_flow.engine.state import PastFiring, SessionView, ShowState, Upcoming
from decart_flow.show import load_show
from decart_flow.show.model import SessionSpec
from decart_flow.tui.app import FlowApp
from decart_flow.tui.glance import Glance, go_target
from decart_flow.tui.header import ShowHeader
from decart_flow.tui.prompt_box import PromptBox
from decart_flow.tui.session_view import SessionColumn, SessionHeader
from decart_flow.tui.state_panel import StatePanel
from decart_flow.tui.target import TargetChooser

TWO = Path(__file__).resolve().parent / "shows" / "two_sessions.yaml"


def text_of(widget) -> str:
    return "\n".join(str(widget.render_line(y).text) for y in range(widget.size.height))


async def test_two_sessions_side_by_side_prompt_and_image_go_where_asked(tmp_path: Path) -> None:
    show_file = tmp_path / "two.yaml"
    # The entries a minute later: the test's keys come before any of them fires by itself.
    show_file.write_text(TWO.read_text().replace("  0:10:", "  1:10:").replace("  0:20:", "  1:20:")
                         .replace("  0:40:", "  1:40:"))
    (tmp_path / "refs").mkdir()
    from PIL import Image

    Image.new("RGB", (32, 32), (200, 40, 40)).save(tmp_path / "refs" / "red.png")

    def sends(live, **match) -> list[dict]:
        return [r for r in live.events("action.send") if all(r["action"].get(k) == v for k, v in match.items())]

    async def body(live, pilot):
        app = live.app
        columns = {c.session_name: c for c in app.query(SessionColumn)}
        assert list(columns) == ["left", "right"]
        for name, column in columns.items():  # each column shows its own session, connected
            await wait_for(pilot, lambda column=column: "generating" in text_of(column.query_one(SessionHeader)))
        assert "Calm lake at dawn" in text_of(columns["left"].query_one(StatePanel))
        assert "Neon city at night" in text_of(columns["right"].query_one(StatePanel))
        header = text_of(app.query_one(ShowHeader))
        assert "left ● generating" in header and "right ● generating" in header

        # The prompt box: tab to the sessions, down to `left`, enter picks it and goes back, enter sends.
        await pilot.press("p")
        assert isinstance(app.screen, PromptBox)
        app.screen.query_one("#prompt").insert_text_at_cursor("Only on the left")
        await pilot.press("tab", "down", "enter")
        assert app.screen.query_one(TargetChooser).target == ("left",)
        assert app.focused is app.screen.query_one("#prompt")
        await pilot.press("enter")
        await wait_for(pilot, lambda: bool(sends(live, prompt="Only on the left")))
        assert [r["session"] for r in sends(live, prompt="Only on the left")] == ["left"]
        await wait_for(pilot, lambda: "Only on the left" in text_of(columns["left"].query_one(StatePanel)))
        assert "Neon city at night" in text_of(columns["right"].query_one(StatePanel))

        # Asked nothing: all sessions.
        await pilot.press("p")
        app.screen.query_one("#prompt").insert_text_at_cursor("Everyone now")
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(sends(live, prompt="Everyone now")) == 2)
        assert sorted(r["session"] for r in sends(live, prompt="Everyone now")) == ["left", "right"]

        # The image chooser: the image to `right` only.
        await pilot.press("i")
        app.screen.query_one("#path").insert_text_at_cursor("refs/red.png")  # typing, minus the waits
        await pilot.press("ctrl+t", "ctrl+t")  # all sessions -> left -> right, staying in the path
        assert app.screen.query_one(TargetChooser).target == ("right",)
        await pilot.press("enter")
        want = str((tmp_path / "refs" / "red.png").resolve())
        await wait_for(pilot, lambda: bool(sends(live, image=want)))
        assert [r["session"] for r in sends(live, image=want)] == ["right"]

        # Pause and GO are show-wide: one pause, one GO, its entry to the session it names.
        await pilot.press("space")
        await wait_for(pilot, lambda: bool(live.events("show.pause")))
        assert "PAUSED" in text_of(app.query_one(ShowHeader))
        await pilot.press("space", "g")
        await wait_for(pilot, lambda: bool(sends(live, prompt="Storm over the lake")))
        assert len(live.events("show.pause")) == 1 and len(live.events("go")) == 1
        assert [r["session"] for r in sends(live, prompt="Storm over the lake")] == ["left"]

    await play(show_file, tmp_path, body)


def still_two(sessions: int = 2) -> tuple[object, Glance]:
    """The two-session show (or the same with more sessions) at a fixed moment."""
    show = load_show(TWO)
    if sessions > 2:
        extra = tuple(SessionSpec(f"wall{i}", "mirage_v2") for i in range(sessions - 2))
        show = replace(show, sessions=show.sessions + extra)
    views = [
        SessionView("left", "mirage_v2", "generating", "sess-left", "p2p", "Storm over the lake", True, None, False,
                    last_ack_ms=3.1, billed_s=21.0),
        SessionView("right", "mirage_v2", "reconnecting", "sess-right", "p2p", "Neon city at night", False,
                    str(TWO.parent / "refs" / "red.png"), True, billed_s=18.0),
    ] + [SessionView(s.name, s.model, "generating", None, "p2p", "Calm") for s in show.sessions[2:]]
    first = views[0]
    state = ShowState(
        show=show.name, model=first.model, connection=first.connection, session_id=first.session_id, t=14.6,
        started=True, prompt=first.prompt, last_ack_ms=first.last_ack_ms, protocol="p2p", billed_s=first.billed_s,
        past=(PastFiring(0.0, "start", 0.2), PastFiring(10.0, "timeline 0:10", 0.3)),
        upcoming=(Upcoming(show.timeline[1].label or "timeline 0:20", 20.0, None),
                  Upcoming(show.timeline[2].label or "timeline 0:40", 40.0, None)),
        go_index=1, timeline_len=len(show.timeline), sessions=tuple(views))
    go_t, go_label = go_target(show, state)
    glance = Glance(state=state, t=state.t, wall=WALL, duration=show.duration, go_t=go_t, go_label=go_label,
                    fps_in=21.9, fps_out=22.0, glass_ms=48.0,
                    session_figures=tuple((v.name, 21.9 if i == 0 else 0.0, 22.0) for i, v in enumerate(views)))
    return show, glance


def still_app(sessions: int = 2) -> FlowApp:
    show, glance = still_two(sessions)
    return FlowApp(show, live=False, now=lambda: WALL, still=glance, still_frame=still_frame())


def test_two_sessions_screen(snap_compare):
    assert snap_compare(still_app(), terminal_size=(160, 50))


async def test_each_column_draws_its_own_session_and_more_than_three_go_in_tabs():
    app = still_app()
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        left, right = app.query(SessionColumn)
        assert "Storm over the lake" in text_of(left.query_one(StatePanel))
        right_state = text_of(right.query_one(StatePanel))
        assert "Neon city at night" in right_state and "(as written)" in right_state and "ON" in right_state
        assert "reconnecting" in text_of(right.query_one(SessionHeader))
        assert "billed 0:39" in text_of(app.query_one(ShowHeader))  # 21 + 18 s, over both sessions
    app = still_app(sessions=4)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        from textual.widgets import TabbedContent

        tabs = app.query_one(TabbedContent)
        assert [p.id for p in tabs.query("TabPane")] == ["tab-left", "tab-right", "tab-wall0", "tab-wall1"]
        assert len(app.query(SessionColumn)) == 4


async def test_a_one_session_show_asks_nothing():
    from test_tui_snapshot import still_app as one_session

    app = one_session()
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.press("p")
        assert isinstance(app.screen, PromptBox)
        assert not app.screen.query(TargetChooser)
        assert not app.query(SessionColumn)


async def test_the_image_chooser_reaches_the_sessions_with_tab():
    """Tab past the path (nothing to complete) and the list of images to the sessions, as a person would."""
    from decart_flow.tui.image_chooser import ImageChooser

    app = still_app()
    async with app.run_test(size=(160, 50)) as pilot:
        chosen = []
        app.push_screen(ImageChooser(TWO.parent, ("left", "right")), chosen.append)
        await pilot.pause()
        app.screen.query_one("#path").insert_text_at_cursor("none")
        await pilot.press("tab", "tab", "down", "down", "enter")
        assert app.screen.query_one(TargetChooser).target == ("right",)
        await pilot.press("enter")
        await pilot.pause()
    assert chosen == [(None, ("right",))]


async def test_ctrl_t_pressed_quickly_steps_once_per_press():
    """ctrl+t three times before the set has heard of the first: all -> left -> right -> wall0, not
    left three times (found driving the TUI in tmux, where keys come faster than Pilot sends them)."""
    from decart_flow.tui.prompt_box import PromptBox

    app = still_app()
    async with app.run_test(size=(160, 50)) as pilot:
        chosen = []
        app.push_screen(PromptBox("", True, ("left", "right", "wall0")), chosen.append)
        await pilot.pause()
        chooser = app.screen.query_one(TargetChooser)
        for _ in range(3):
            chooser.step()  # as three key presses handled before any message between them
        assert chooser.target == ("wall0",)
        await pilot.pause()
        assert chooser.target == ("wall0",) and chooser.pressed_index == 3
        chooser.step()  # and round to every session again
        await pilot.pause()
        assert chooser.target is None
