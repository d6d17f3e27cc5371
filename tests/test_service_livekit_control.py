"""Today's control channel and LiveKit signalling of the local service, message by message.

No media here (that needs a namespace: test_service_livekit_sdk.py), so these run on loopback
against a real LocalService: room info and its token, initial_state, the queue of a service with
capacity, the model's options, viewer credentials, and the `/rtc/v1` protobuf exchange up to
the point where WebRTC would start (join, pong, track published, resume, bad tokens).
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import time
from typing import Any

import aiohttp
import jwt
import pytest
from livekit.protocol import models, rtc

from decart_flow.service.app import LocalService

KEY = "test-key"
TIMEOUT = 10


async def open_control(service: LocalService, model: str = "lucy-restyle-2", early: bool = True, **query: str) -> tuple[aiohttp.ClientSession, aiohttp.ClientWebSocketResponse]:
    params = {"api_key": KEY, "model": model, **query}
    if early:
        params["livekit_early_room_info"] = "true"
    session = aiohttp.ClientSession()
    ws = await session.ws_connect(service.url.replace("http", "ws") + "/v1/stream", params=params)
    return session, ws


async def receive(ws: aiohttp.ClientWebSocketResponse, kind: str | None = None) -> dict[str, Any]:
    """The next message (of `kind`, skipping generation messages)."""
    while True:
        msg = await asyncio.wait_for(ws.receive(), TIMEOUT)
        assert msg.type == aiohttp.WSMsgType.TEXT, msg
        message = json.loads(msg.data)
        if kind is None or message["type"] == kind:
            return message
        assert message["type"].startswith("generation_") or message["type"] == "queue_position", message


@pytest.fixture
async def service() -> Any:
    async with LocalService(api_key=KEY) as svc:
        yield svc


async def test_livekit_join_gets_room_info_with_a_livekit_token(service: LocalService) -> None:
    session, ws = await open_control(service)
    try:
        await ws.send_json({"type": "livekit_join"})
        info = await receive(ws)
        assert info["type"] == "livekit_room_info"
        assert set(info) == {"type", "livekit_url", "token", "room_name", "session_id"}
        assert info["livekit_url"] == f"ws://127.0.0.1:{service.port}"
        claims = jwt.decode(info["token"], options={"verify_signature": False})
        assert claims["video"]["room"] == info["room_name"]
        assert claims["video"]["roomJoin"] and claims["video"]["canPublish"] and claims["video"]["canSubscribe"]
        assert jwt.get_unverified_header(info["token"])["alg"] == "HS256"
        assert claims["exp"] > time.time()
        assert info["room_name"] in service.today.rooms
    finally:
        await ws.close()
        await session.close()
    await asyncio.sleep(0.2)
    assert info["room_name"] not in service.today.rooms  # the room goes with its session


async def test_initial_state_is_applied_and_acked_before_the_room_info(service: LocalService) -> None:
    session, ws = await open_control(service)
    try:
        await ws.send_json({"type": "livekit_join", "initial_state": {"type": "prompt", "prompt": "a forest", "enhance_prompt": False}})
        ack = await receive(ws)
        assert ack == {"type": "prompt_ack", "prompt": "a forest", "success": True, "error": None}
        assert (await receive(ws))["type"] == "livekit_room_info"
        await ws.send_json({"type": "set_image", "image_data": None, "prompt": None})
        assert await receive(ws) == {"type": "set_image_ack", "success": True, "error": None}
        # the 2025 media messages have no place on today's channel: skipped, the session goes on
        await ws.send_json({"type": "offer", "sdp": "v=0"})
        await ws.send_json({"type": "prompt", "prompt": "still here", "enhance_prompt": True})
        assert (await receive(ws))["prompt"] == "still here"
    finally:
        await ws.close()
        await session.close()


async def test_a_full_service_queues_with_positions_until_a_slot_frees() -> None:
    async with LocalService(api_key=KEY, capacity=1) as service:
        first = await open_control(service)
        await first[1].send_json({"type": "livekit_join"})
        assert (await receive(first[1]))["type"] == "livekit_room_info"
        second = await open_control(service)
        await second[1].send_json({"type": "livekit_join"})
        assert await receive(second[1]) == {"type": "queue_position", "position": 1, "queue_size": 1}
        third = await open_control(service)
        await third[1].send_json({"type": "livekit_join"})
        assert await receive(third[1]) == {"type": "queue_position", "position": 2, "queue_size": 2}
        # prompts are answered while waiting
        await second[1].send_json({"type": "prompt", "prompt": "waiting", "enhance_prompt": False})
        assert (await receive(second[1], "prompt_ack"))["success"]
        await first[1].close()
        await first[0].close()
        assert (await receive(second[1], "livekit_room_info"))["room_name"] in service.today.rooms
        assert await receive(third[1]) == {"type": "queue_position", "position": 1, "queue_size": 1}
        # one waiting session leaves the line: nobody is left waiting behind it
        await third[1].close()
        await third[0].close()
        await asyncio.sleep(0.2)
        assert service.today.slots.waiting == 0 and service.today.slots.in_use == 1
        await second[1].close()
        await second[0].close()
        await asyncio.sleep(0.2)
        assert service.today.slots.in_use == 0


@pytest.mark.parametrize(("model", "query", "problem"), [
    ("lucy-restyle-2", {"speed": "fast"}, "has no `speed: fast`"),
    ("lucy-2.6", {"resolution": "4k"}, "resolution must be one of 720p, 1080p"),
    ("live_avatar", {}, "use the 2025 protocol"),
])
async def test_options_the_model_does_not_allow_are_an_error(service: LocalService, model: str, query: dict[str, str], problem: str) -> None:
    session, ws = await open_control(service, model, **query)
    try:
        message = await receive(ws)
        assert message["type"] == "error" and problem in message["error"], message
        assert "not allowed" in message["error"]  # the SDKs do not retry it
        assert (await ws.receive()).type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    finally:
        await session.close()


@pytest.mark.parametrize(("model", "query", "size"), [
    ("lucy-2.6", {"speed": "fast", "resolution": "1080p"}, (1920, 1080)),
    ("lucy-restyle-2", {"resolution": "1080p"}, (1920, 1056)),
    ("lucy-vton-latest", {"resolution": "720p", "speed": "fast"}, (1280, 720)),
])
async def test_allowed_options_set_the_size(service: LocalService, model: str, query: dict[str, str], size: tuple[int, int]) -> None:
    session, ws = await open_control(service, model, **query)
    try:
        await ws.send_json({"type": "livekit_join"})
        info = await receive(ws)
        room = service.today.rooms[info["room_name"]]
        assert (room.width, room.height) == size
    finally:
        await ws.close()
        await session.close()


async def test_rejected_prompts_fault_on_todays_path() -> None:
    async with LocalService(api_key=KEY, faults=["reject-prompts=1"]) as service:
        session, ws = await open_control(service)
        try:
            await ws.send_json({"type": "livekit_join", "initial_state": {"type": "prompt", "prompt": "no", "enhance_prompt": True}})
            ack = await receive(ws)
            assert ack["type"] == "prompt_ack" and ack["success"] is False and "rejected" in ack["error"]
        finally:
            await ws.close()
            await session.close()


async def test_queue_for_fault_holds_each_session_in_line() -> None:
    async with LocalService(api_key=KEY, faults=["queue-for=1.5s"]) as service:
        session, ws = await open_control(service)
        try:
            started = time.monotonic()
            await ws.send_json({"type": "livekit_join"})
            positions = []
            while True:
                message = await receive(ws)
                if message["type"] != "queue_position":
                    break
                positions.append(message)
            assert message["type"] == "livekit_room_info"
            assert time.monotonic() - started >= 1.4
            assert positions and all(p == {"type": "queue_position", "position": 1, "queue_size": 1} for p in positions)
        finally:
            await ws.close()
            await session.close()


async def test_watch_stream_gives_subscribe_only_credentials(service: LocalService) -> None:
    session, ws = await open_control(service)
    try:
        await ws.send_json({"type": "livekit_join"})
        info = await receive(ws)
        async with aiohttp.ClientSession() as http:
            url = f"{service.url}/watch-stream/{info['room_name']}"
            async with http.post(url) as response:
                assert response.status == 401
            async with http.post(url, headers={"x-api-key": "wrong"}) as response:
                assert response.status == 401
            async with http.post(f"{service.url}/watch-stream/room-none", headers={"x-api-key": KEY}) as response:
                assert response.status == 404
            async with http.post(url, headers={"x-api-key": KEY}) as response:
                assert response.status == 200
                viewer = await response.json()
        assert viewer["room_name"] == info["room_name"] and viewer["session_id"] == info["session_id"]
        assert viewer["livekit_url"] == info["livekit_url"]
        grant = jwt.decode(viewer["token"], options={"verify_signature": False})["video"]
        assert grant["room"] == info["room_name"] and grant["canSubscribe"] and not grant["canPublish"]
    finally:
        await ws.close()
        await session.close()


# -- /rtc/v1 ---------------------------------------------------------------------------------

def join_param(join: rtc.JoinRequest, compress: bool = True) -> str:
    payload = join.SerializeToString()
    wrapped = rtc.WrappedJoinRequest(
        join_request=gzip.compress(payload) if compress else payload,
        compression=rtc.WrappedJoinRequest.Compression.GZIP if compress else rtc.WrappedJoinRequest.Compression.NONE,
    )
    return base64.urlsafe_b64encode(wrapped.SerializeToString()).decode().rstrip("=")


async def signal(ws: aiohttp.ClientWebSocketResponse) -> rtc.SignalResponse:
    msg = await asyncio.wait_for(ws.receive(), TIMEOUT)
    assert msg.type == aiohttp.WSMsgType.BINARY, msg
    response = rtc.SignalResponse()
    response.ParseFromString(msg.data)
    return response


async def test_rtc_v1_join_ping_and_add_track(service: LocalService) -> None:
    session, ws = await open_control(service)
    try:
        await ws.send_json({"type": "livekit_join"})
        info = await receive(ws)
        join = rtc.JoinRequest(client_info=models.ClientInfo(sdk=models.ClientInfo.SDK.JS, protocol=16),
                               connection_settings=rtc.ConnectionSettings(auto_subscribe=True))
        async with aiohttp.ClientSession() as http:
            # the token as a Bearer header (Rust client), the join request uncompressed
            async with http.ws_connect(f"{info['livekit_url']}/rtc/v1", params={"join_request": join_param(join, False)},
                                       headers={"Authorization": f"Bearer {info['token']}"}) as lk:
                first = await signal(lk)
                assert first.WhichOneof("message") == "join"
                joined = first.join
                assert joined.server_info.version  # livekit-client refuses a join without it
                assert joined.room.name == info["room_name"]
                assert joined.participant.sid.startswith("PA_")
                (inference,) = joined.other_participants
                assert inference.identity.startswith("inference-server-")
                (track,) = inference.tracks
                assert track.sid.startswith("TR_") and track.type == models.TrackType.VIDEO
                assert (track.width, track.height) == (1280, 704)
                assert joined.ping_interval > 0 and joined.ping_timeout > joined.ping_interval

                await lk.send_bytes(rtc.SignalRequest(ping_req=rtc.Ping(timestamp=1234, rtt=5)).SerializeToString())
                pong = await signal(lk)
                assert pong.WhichOneof("message") == "pong_resp"
                assert pong.pong_resp.last_ping_timestamp == 1234 and pong.pong_resp.timestamp > 0

                await lk.send_bytes(b"\xff\xff not a protobuf")  # logged and skipped
                add = rtc.AddTrackRequest(cid="camera-1", name="camera", type=models.TrackType.VIDEO, width=640, height=360,
                                          source=models.TrackSource.CAMERA)
                await lk.send_bytes(rtc.SignalRequest(add_track=add).SerializeToString())
                published = await signal(lk)
                assert published.WhichOneof("message") == "track_published"
                assert published.track_published.cid == "camera-1"
                assert published.track_published.track.sid.startswith("TR_")
                await lk.send_bytes(rtc.SignalRequest(leave=rtc.LeaveRequest()).SerializeToString())
                assert (await lk.receive()).type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    finally:
        await ws.close()
        await session.close()


async def test_rtc_v1_refuses_bad_tokens_and_asks_a_resume_to_rejoin(service: LocalService) -> None:
    session, ws = await open_control(service)
    try:
        await ws.send_json({"type": "livekit_join"})
        info = await receive(ws)
        url = f"{info['livekit_url']}/rtc/v1"
        join = join_param(rtc.JoinRequest())
        forged = jwt.encode({"sub": "x", "exp": time.time() + 60, "video": {"room": info["room_name"], "roomJoin": True}},
                            "not-the-secret-of-this-service-at-all", algorithm="HS256")
        async with aiohttp.ClientSession() as http:
            for token in (forged, ""):
                with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                    await http.ws_connect(url, params={"join_request": join, "access_token": token})
                assert refused.value.status == 401
            for garbage in ("@@@", "AAAA", ""):
                with pytest.raises(aiohttp.WSServerHandshakeError) as bad:
                    await http.ws_connect(url, params={"join_request": garbage, "access_token": info["token"]})
                assert bad.value.status == 400
            # a resume: aiortc cannot restart ICE, so the client is asked for a full reconnect
            resume = join_param(rtc.JoinRequest(reconnect=True, participant_sid="PA_old"))
            async with http.ws_connect(url, params={"join_request": resume, "access_token": info["token"]}) as lk:
                leave = await signal(lk)
                assert leave.WhichOneof("message") == "leave"
                assert leave.leave.action == rtc.LeaveRequest.Action.RECONNECT
    finally:
        await ws.close()
        await session.close()
    # the room is gone with its session: a late join is told to leave for good
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(url, params={"join_request": join, "access_token": info["token"]}) as lk:
            leave = await signal(lk)
            assert leave.leave.action == rtc.LeaveRequest.Action.DISCONNECT
            assert leave.leave.reason == models.DisconnectReason.ROOM_DELETED


async def test_rtc_v1_closes_a_client_that_stops_pinging(service: LocalService, monkeypatch: pytest.MonkeyPatch) -> None:
    from decart_flow.service.livekit import connection

    monkeypatch.setattr(connection, "PING_INTERVAL", 1)
    monkeypatch.setattr(connection, "PING_TIMEOUT", 2)
    session, ws = await open_control(service)
    try:
        await ws.send_json({"type": "livekit_join"})
        info = await receive(ws)
        join = join_param(rtc.JoinRequest())
        async with aiohttp.ClientSession() as http:
            async with http.ws_connect(f"{info['livekit_url']}/rtc/v1", params={"join_request": join, "access_token": info["token"]}) as lk:
                joined = (await signal(lk)).join
                assert (joined.ping_interval, joined.ping_timeout) == (1, 2)
                started = time.monotonic()
                for _ in range(4):  # pinging each second keeps it open past the timeout
                    await lk.send_bytes(rtc.SignalRequest(ping_req=rtc.Ping(timestamp=1)).SerializeToString())
                    silent = time.monotonic()
                    assert (await signal(lk)).WhichOneof("message") == "pong_resp"
                    await asyncio.sleep(1)
                closed = await asyncio.wait_for(lk.receive(), 6)
                assert closed.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
                assert time.monotonic() - started >= 4 and time.monotonic() - silent >= 2
    finally:
        await ws.close()
        await session.close()


async def recvonly_offer(kinds: tuple[str, ...], data_channel: bool = False) -> tuple[Any, str]:
    """An aiortc peer connection receiving `kinds`, and its offer (candidates on loopback)."""
    from aiortc import RTCConfiguration, RTCPeerConnection

    from decart_flow.realtime.loopback import loopback_candidates

    client = RTCPeerConnection(RTCConfiguration(iceServers=[]))  # no STUN server: nothing leaves the host
    for kind in kinds:
        client.addTransceiver(kind, direction="recvonly")
    if data_channel:
        client.createDataChannel("_reliable")
    with loopback_candidates():
        await client.setLocalDescription(await client.createOffer())
    return client, client.localDescription.sdp


async def first_answer(service: LocalService, sdp: str) -> tuple[rtc.JoinResponse, rtc.SessionDescription]:
    """Join a room over `/rtc/v1` with `sdp` as the publisher offer: the join and the service's answer."""
    offer = rtc.SessionDescription(type="offer", sdp=sdp, id=1)
    session, ws = await open_control(service)
    try:
        await ws.send_json({"type": "livekit_join"})
        info = await receive(ws)
        join = join_param(rtc.JoinRequest(publisher_offer=offer))
        async with aiohttp.ClientSession() as http:
            async with http.ws_connect(f"{info['livekit_url']}/rtc/v1", params={"join_request": join, "access_token": info["token"]}) as lk:
                return (await signal(lk)).join, (await signal(lk)).answer
    finally:
        await ws.close()
        await session.close()


async def test_rtc_v1_answer_names_our_track_and_offers_candidates_on_the_service_address(service: LocalService) -> None:
    """The first answer: our video on the first video slot, named in mid_to_track_id, other slots
    inactive, and host candidates on the address the service listens on only."""
    client, sdp = await recvonly_offer(("audio", "audio", "video", "video", "video"), data_channel=True)
    try:
        joined, answer = await first_answer(service, sdp)
        track_sid = joined.other_participants[0].tracks[0].sid
        assert answer.type == "answer" and answer.id == 1
        assert dict(answer.mid_to_track_id) == {"2": track_sid}  # the first video slot
        sections = answer.sdp.split("\r\nm=")[1:]
        directions = [next(line for line in s.split("\r\n") if line in ("a=sendonly", "a=recvonly", "a=inactive", "a=sendrecv"))
                      for s in sections if not s.startswith("application")]
        assert directions == ["a=inactive", "a=inactive", "a=sendonly", "a=inactive", "a=inactive"]
        assert f"a=msid:{joined.other_participants[0].sid}|{track_sid} {track_sid}" in answer.sdp
        hosts = {line.split()[4] for line in answer.sdp.split("\r\n") if line.startswith("a=candidate:")}
        assert hosts == {"127.0.0.1"}
    finally:
        await client.close()


async def test_first_message_livekit_join_chooses_todays_protocol_without_the_url_flag(service: LocalService) -> None:
    session, ws = await open_control(service, early=False)
    try:
        await ws.send_json({"type": "livekit_join"})
        info = await receive(ws)
        assert info["type"] == "livekit_room_info" and info["room_name"] in service.today.rooms
    finally:
        await ws.close()
        await session.close()


def test_serve_refuses_a_capacity_below_one() -> None:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "decart_flow.cli", "serve", "--capacity", "0"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "--capacity 0" in lines[0] and "at least 1" in lines[0]
