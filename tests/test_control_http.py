"""HTTP control on 127.0.0.1: token, JSON API, `on: http` cues, the live WebSocket, the remote page."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from needs import importorskip
from test_control_support import live_engine, read_journal, two_sessions

from decart_flow.control.remote import HttpControl
from decart_flow.show.model import Cue, EventTrigger, PromptAction, ShowModel, TimelineEntry


def show() -> ShowModel:
    timeline = tuple(TimelineEntry(t, (PromptAction(p),), label=p) for t, p in [(100, "Alpha"), (200, "Beta"), (300, "Gamma")])
    cues = (Cue("scene", EventTrigger("http", "/scene"), (PromptAction("Scene {0}"),)),)
    return ShowModel("Remote Test", "mirage_v2", timeline=timeline, cues=cues)


async def test_api_needs_the_token_and_drives_the_engine(tmp_path):
    async with live_engine(show(), tmp_path) as live:
        server = HttpControl(live.engine, port=0)
        await server.start()
        base = server.url.rstrip("/")
        try:
            async with aiohttp.ClientSession() as http:
                for method, path in [("GET", "/api/state"), ("POST", "/api/go"), ("GET", "/"), ("POST", "/scene")]:
                    async with http.request(method, base + path) as r:
                        assert r.status == 401, path
                async with http.get(base + "/api/state", headers={"X-Token": server.token + "x"}) as r:
                    assert r.status == 401
                async with http.get(base + "/api/state", headers={"Authorization": "Bearer wrong"}) as r:
                    assert r.status == 401
                assert live.events("go") == []

            auth = {"Authorization": f"Bearer {server.token}"}
            async with aiohttp.ClientSession(headers=auth) as http:
                async with http.get(base + "/api/state") as r:
                    body = await r.json()
                assert body["state"]["show"] == "Remote Test" and body["state"]["go_index"] == 0
                assert [c["label"] for c in body["cues"]] == ["Alpha", "Beta", "Gamma"]

                async with http.post(base + "/api/go") as r:
                    assert (await r.json())["ok"] is True
                await live.until(lambda: "Alpha" in live.prompts())
                async with http.post(base + "/api/pause") as r:
                    assert (await r.json())["ok"] is True
                assert live.engine.show_clock.paused
                async with http.post(base + "/api/resume") as r:
                    assert (await r.json())["ok"] is True
                async with http.post(base + "/api/prompt", json={"text": "Velvet fog", "enhance": False}) as r:
                    assert r.status == 200
                await live.until(lambda: "Velvet fog" in live.prompts())
                assert ("set_prompt", ("Velvet fog", False)) in live.session.calls
                async with http.post(base + "/api/prompt", json={"text": "  "}) as r:
                    assert r.status == 400
                async with http.post(base + "/api/prompt", data=b"not json") as r:
                    assert r.status == 400

                async with http.post(base + "/scene", json={"args": ["Tokyo"]}) as r:
                    assert r.status == 200
                async with http.post(base + "/cue/scene?x=Paris") as r:
                    assert r.status == 200
                await live.until(lambda: {"Scene Tokyo", "Scene Paris"} <= set(live.prompts()))
                async with http.post(base + "/cue/nothing") as r:
                    assert r.status == 404
        finally:
            await server.stop()
        sources = [r["source"] for r in read_journal(live.journal_path) if r["event"] == "manual"]
        assert sources == ["http"]
        assert server.token not in live.journal_path.read_text()


async def test_the_token_url_sets_a_cookie_and_the_websocket_pushes_state_and_journal(tmp_path):
    async with live_engine(show(), tmp_path) as live:
        server = HttpControl(live.engine, port=0)
        await server.start()
        try:
            async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:  # IP hosts
                async with http.get(server.login_url) as r:  # redirected to / with the cookie set
                    assert r.status == 200 and str(r.url) == server.url
                    assert "<button id=\"go\"" in await r.text()
                async with http.ws_connect(server.url + "api/live") as ws:
                    first = json.loads((await ws.receive(timeout=5)).data)
                    assert first == {"type": "cues", "cues": [
                        {"index": 0, "t": 100, "label": "Alpha"}, {"index": 1, "t": 200, "label": "Beta"},
                        {"index": 2, "t": 300, "label": "Gamma"}]}
                    live.engine.go_next()
                    seen: list[dict] = []
                    while not any(m["type"] == "state" and m["state"]["go_index"] == 1 for m in seen):
                        seen.append(json.loads((await ws.receive(timeout=5)).data))
                    journal = [m["record"]["event"] for m in seen if m["type"] == "journal"]
                    assert "go" in journal and "cue.fire" in journal
        finally:
            await server.stop()


@pytest.fixture
async def browser():
    playwright_api = importorskip("playwright.async_api")
    async with playwright_api.async_playwright() as p:
        b = await p.chromium.launch(executable_path="/usr/bin/chromium", args=[
            "--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        yield b
        await b.close()


async def test_remote_page_in_a_browser_goes_and_follows_the_show(tmp_path, browser):
    async with live_engine(show(), tmp_path) as live:
        server = HttpControl(live.engine, port=0)
        await server.start()
        try:
            page = await browser.new_page()
            await page.goto(server.login_url)
            assert page.url == server.url  # the token left the address bar
            await page.wait_for_selector("#link.ok")
            await page.wait_for_function("document.querySelector('#next-label').textContent === 'Alpha'")
            assert await page.text_content("#show") == "Remote Test"

            await page.click("#go")
            await live.until(lambda: "Alpha" in live.prompts())
            await page.wait_for_function("document.querySelector('li.now')?.textContent.includes('Alpha')")
            assert await page.text_content("#next-label") == "Beta"
            await page.wait_for_function("document.querySelector('#log').textContent.includes('cue.fire')")

            live.engine.go_next()  # moved from elsewhere (the TUI): the page follows
            await page.wait_for_function("document.querySelector('#now-label').textContent === 'Beta'")

            await page.click("#back")
            await page.wait_for_function("document.querySelector('#now-label').textContent === 'Alpha'")
            await page.click("#pause")
            await live.until(lambda: live.engine.show_clock.paused)
            await page.wait_for_function("document.querySelector('#pause').textContent === 'Resume'")

            await page.fill("#text", "Paper lanterns")
            await page.click("form button")
            await live.until(lambda: "Paper lanterns" in live.prompts())
            await page.wait_for_function("document.querySelector('#prompt-now').textContent.includes('Paper lanterns')")

            other = await browser.new_page()  # no token: refused
            response = await other.goto(server.url)
            assert response is not None and response.status == 401
        finally:
            await server.stop()


async def test_a_prompt_goes_to_the_sessions_it_names(tmp_path):
    """A show of several sessions: `"to"` picks sessions; none sends to all; an unknown name is a 400."""
    async with two_sessions(tmp_path) as two:
        server = HttpControl(two.engine, port=0)
        await server.start()
        try:
            auth = {"Authorization": f"Bearer {server.token}"}
            async with aiohttp.ClientSession(headers=auth) as http:
                base = server.url.rstrip("/")
                async with http.post(base + "/api/prompt", json={"text": "Only right", "to": "right"}) as r:
                    assert r.status == 200
                async with http.post(base + "/api/prompt", json={"text": "Both", "to": ["left", "right"]}) as r:
                    assert r.status == 200
                async with http.post(base + "/api/prompt", json={"text": "Everyone"}) as r:
                    assert r.status == 200
                async with http.post(base + "/api/prompt", json={"text": "Lost", "to": "middle"}) as r:
                    assert r.status == 400 and "left, right" in (await r.json())["error"]
                async with http.post(base + "/api/prompt", json={"text": "Odd", "to": 3}) as r:
                    assert r.status == 400
            await two.until(left=2, right=3)
        finally:
            await server.stop()
        assert two.prompts("left") == ["Both", "Everyone"]
        assert two.prompts("right") == ["Only right", "Both", "Everyone"]
