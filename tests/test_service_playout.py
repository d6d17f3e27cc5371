"""Zero playout delay on the LiveKit path: negotiated in the service's answers, written on packets.

A libwebrtc receiver offers the playout-delay extension; the service accepts it (and its senders
then write min = max = 0 on every packet) unless it was started with `--playout-delay auto`. The
effect on the glass is measured by `benchmarks/run_all.py` (figure 3, both settings side by side).
"""

from __future__ import annotations

from typing import Any

import pytest
from aiortc import rtp
from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters

from decart_flow.service.app import LocalService
from decart_flow.service.livekit import playout
from test_service_livekit_control import KEY, first_answer, recvonly_offer

EXTMAP = f"a=extmap:12 {playout.URI}"


async def answer_to_a_libwebrtc_like_offer(service: LocalService) -> str:
    """The service's answer to an offer that, as libwebrtc's do, lists playout-delay for video."""
    client, sdp = await recvonly_offer(("video",))
    try:
        head, video = sdp.split("m=video", 1)
        video = video.replace("\r\na=mid:", f"\r\n{EXTMAP}\r\na=mid:", 1)
        _, answer = await first_answer(service, head + "m=video" + video)
        return answer.sdp
    finally:
        await client.close()


async def test_the_service_accepts_zero_playout_delay_for_its_video() -> None:
    async with LocalService(api_key=KEY) as service:
        answer = await answer_to_a_libwebrtc_like_offer(service)
    assert EXTMAP in answer


async def test_playout_delay_auto_leaves_the_receiver_its_smoothing() -> None:
    async with LocalService(api_key=KEY, playout_delay="auto") as service:
        answer = await answer_to_a_libwebrtc_like_offer(service)
    assert playout.URI not in answer
    assert "a=sendonly" in answer  # still a whole answer with our video, only without the extension


def test_a_bad_playout_delay_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="give one of 0, auto"):
        LocalService(playout_delay="10ms")


def _packed(extensions: list[RTCRtpHeaderExtensionParameters]) -> list[tuple[int, bytes]]:
    playout.install()
    header_map = rtp.HeaderExtensionsMap()
    header_map.configure(RTCRtpParameters(headerExtensions=extensions))
    values: Any = rtp.HeaderExtensions()
    values.mid = "2"
    profile, packed = header_map.set(values)
    return rtp.unpack_header_extensions(profile, packed)


def test_senders_write_zero_playout_delay_where_it_was_negotiated() -> None:
    mid = RTCRtpHeaderExtensionParameters(id=4, uri="urn:ietf:params:rtp-hdrext:sdes:mid")
    delay = RTCRtpHeaderExtensionParameters(id=7, uri=playout.URI)
    assert _packed([mid, delay]) == [(4, b"2"), (7, b"\x00\x00\x00")]
    assert _packed([mid]) == [(4, b"2")]  # the 2025 path never negotiates it: packets unchanged
