"""--watch: a saved show swaps its cues live; a broken save is refused and the show goes on."""

from __future__ import annotations

import asyncio
import os
from dataclasses import replace

from test_control_support import live_engine

from decart_flow.control.watch import ShowWatcher
from decart_flow.show import load_show

V1 = """name: Watched
model: mirage_v2
timeline:
  1:00: First
cues:
  - name: old
    on: osc /old
    prompt: Old cue
"""

V2 = """name: Watched
model: mirage_v2
timeline:
  1:00: Second
  2:00: Third
cues:
  - name: new
    on: osc /new
    prompt: New cue {0}
"""

BROKEN = """name: Watched
model: mirage_v2
cues:
  - name: bad
    evry: 10s
    prompt: x
"""


def save(path, text, bump):
    path.write_text(text)
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + bump))  # coarse mtime clocks: be sure it moved


async def test_reload_swaps_cues_keeps_clock_and_refuses_broken_saves(tmp_path):
    path = tmp_path / "show.yaml"
    path.write_text(V1)
    async with live_engine(load_show(path), tmp_path) as live:
        reloaded, refused = [], []
        keep = lambda show: replace(show, duration=999.0)  # noqa: E731 - the run's --duration override
        watcher = ShowWatcher(live.engine, path, interval=0.02, on_reload=reloaded.append, on_error=refused.append,
                              adjust=keep)
        await watcher.start()
        try:
            assert live.engine.fire_event("osc", "/old")
            await asyncio.sleep(0.2)
            t_before = live.engine.show_clock.t
            save(path, V2, 10_000_000)
            await live.until(lambda: reloaded)
            assert live.engine.show_clock.t >= t_before  # the clock went on, no restart
            assert len(live.events("show.start")) == 1
            assert [e.label for e in live.engine.show.timeline] == ["Second", "Third"]
            assert live.engine.show.duration == 999.0
            assert not live.engine.fire_event("osc", "/old")
            assert live.engine.fire_event("osc", "/new", ("now",))
            await live.until(lambda: "New cue now" in live.prompts())
            assert live.engine.go_next()
            await live.until(lambda: "Second" in live.prompts())

            save(path, BROKEN, 20_000_000)
            await live.until(lambda: refused)
            assert any("show.yaml:5:5" in p and "every" in p for p in refused[0])  # line:col and did-you-mean
            error = live.events("error")[-1]
            assert error["message"].startswith("reload refused:") and "show.yaml:5:5" in error["message"]
            assert live.engine.fire_event("osc", "/new", ("still",))  # the running show went on
            assert [e.label for e in live.engine.show.timeline] == ["Second", "Third"]
            assert len(reloaded) == 1

            await watcher.stop()  # poll by hand from here
            assert await watcher.check() is None  # unchanged file: nothing happens
            save(path, V1.replace("mirage_v2", "lucy_v2v_720p_rt"), 30_000_000)
            assert await watcher.check() is False
            assert "needs a restart" in refused[-1][0]
        finally:
            await watcher.stop()
