"""The fleet's pieces without a network: the clock message, GO's target, topics, the broker's URL."""

from __future__ import annotations

import pytest

from decart_flow.fleet.broker import FleetError, broker_from_url, decode
from decart_flow.fleet.checks import fleet_problem
from decart_flow.fleet.clock import PAUSED, RUNNING, WAITING, FleetClock, Topics, next_go
from decart_flow.show.model import ShowModel


def test_clock_reads_show_time_off_the_wall_and_every_change_is_newer():
    clock = FleetClock()
    assert clock.state == WAITING and clock.show_t(100.0) is None
    running = clock.started(1000.0)
    assert running.show_t(1012.5) == 12.5 and running.seq == 1
    paused = running.paused(1020.0, lead=0.0)
    assert paused.state == PAUSED and paused.show_t(5000.0) == 20.0 and paused.seq == 2
    resumed = paused.resumed(1100.0, lead=0.0)
    assert resumed.state == RUNNING and resumed.show_t(1101.0) == pytest.approx(21.0)
    gone = resumed.gone_to(1200.0, 3, 60.0, lead=0.0)
    assert (gone.show_t(1200.0), gone.go, gone.go_index, gone.seq) == (60.0, 1, 3, 4)
    assert paused.gone_to(2000.0, 1, 30.0).state == PAUSED  # GO while paused stays paused, at the entry
    assert running.resumed(5.0) is running and clock.paused(5.0) is clock  # nothing to do: no new seq


def test_a_change_takes_effect_a_moment_after_it_is_sent_so_every_node_applies_it_together():
    running = FleetClock().started(1000.0)
    paused = running.paused(1010.0)  # sent at 1010: in effect at 1010.15
    assert paused.at == pytest.approx(1010.15) and paused.t == pytest.approx(10.15)
    resumed = paused.resumed(1050.0)
    assert resumed.show_t(resumed.at) == pytest.approx(10.15)  # show time goes on from where it stopped
    gone = resumed.gone_to(1060.0, 0, 30.0)
    assert gone.show_t(gone.at) == pytest.approx(30.0)


def test_clock_survives_the_wire_and_a_malformed_one_is_none():
    clock = FleetClock().started(1000.0).gone_to(1010.0, 2, 30.0)
    assert FleetClock.from_wire(clock.to_wire()) == clock
    for bad in ({}, {"seq": "x", "state": RUNNING}, {"seq": 1, "state": "later"}, {"seq": 1, "state": RUNNING}):
        assert FleetClock.from_wire(bad) is None
    assert decode("t", b"not json") is None and decode("t", b"[1]") is None and decode("t", b"") is None


def test_go_fires_the_first_entry_not_reached_and_after_the_last_go():
    times = [10.0, 20.0, 20.0, 30.0]
    assert next_go(times, 0.0, None) == 0
    assert next_go(times, 10.0, None) == 1  # the entry at 10 fired at 10
    assert next_go(times, 20.0, 1) == 3  # GO to 1 at 20: entry 2 (also at 20) fired with it
    assert next_go(times, 15.0, 3) is None


def test_topics_are_under_the_show_and_name_their_node():
    topics = Topics("Neon Night / Foyer")
    assert topics.clock == "decart-flow/neon-night-foyer/clock"
    assert topics.node_of(topics.status("stage")) == "stage"
    assert topics.node_of(topics.clock) is None


def test_broker_url_credentials_only_from_the_environment():
    env = {"DECART_FLOW_MQTT_USER": "u", "DECART_FLOW_MQTT_PASSWORD": "s3cr3t"}
    broker = broker_from_url("mqtts://broker.lan", env)
    assert (broker.host, broker.port, broker.tls, broker.username, broker.password) == ("broker.lan", 8883, True, "u", "s3cr3t")
    assert "s3cr3t" not in repr(broker) and broker.label == "mqtts://broker.lan:8883"
    with pytest.raises(FleetError) as info:
        broker_from_url("mqtt://u:secret@h:1883", {})
    assert "secret" not in str(info.value) and "DECART_FLOW_MQTT_USER" in str(info.value)
    for url, says in [("http://h:1", "use mqtt://"), ("mqtt://h:x", "not a number"), ("mqtt://:1883", "no host"),
                      ("mqtt://h:1883/a", "no path")]:
        with pytest.raises(FleetError, match=says):
            broker_from_url(url, {})
    with pytest.raises(FleetError, match="set both"):
        broker_from_url("mqtt://h", {"DECART_FLOW_MQTT_PASSWORD": "p"})


def test_node_and_broker_are_checked_against_the_show():
    show = ShowModel("S", "mirage", nodes={"stage": ("main",), "foyer": ("main",)})
    assert fleet_problem(show, None, None) is None
    assert "goes with --node" in fleet_problem(show, None, None, token=True)  # type: ignore[operator]
    assert fleet_problem(show, "stage", "mqtt://127.0.0.1:1883") is None
    assert "go together" in fleet_problem(show, "stage", None)  # type: ignore[operator]
    assert fleet_problem(show, "stag", "mqtt://h") == (
        "--node stag: not a node of this show (did you mean 'stage'?); its nodes are stage, foyer")
    assert "has no `nodes:`" in fleet_problem(ShowModel("S", "mirage"), "stage", "mqtt://h")  # type: ignore[operator]


def test_fleet_command_says_in_one_line_what_is_wrong(tmp_path, capsys, monkeypatch):
    from decart_flow.cli import main

    monkeypatch.delenv("DECART_API_KEY", raising=False)
    show = tmp_path / "s.yaml"
    show.write_text("name: S\nmodel: mirage\nnodes: {stage: [main]}\n")
    plain = tmp_path / "plain.yaml"
    plain.write_text("name: S\nmodel: mirage\n")
    cases = [
        ([str(show), "--broker", "mqtt://127.0.0.1:1", "--mint-tokens"], "--mint-tokens needs the Decart key here"),
        ([str(show), "--broker", "mqtt://127.0.0.1:1", "--mint-tokens", "--api-key", "k", "--token-lifetime", "2h"],
         "a client token lives 1 s to 1 h"),
        ([str(show), "--broker", "tcp://h"], "use mqtt://HOST:PORT"),
        ([str(show), "--broker", "mqtt://h", "--start-timeout", "soon"], "--start-timeout:"),
        ([str(plain), "--broker", "mqtt://h"], "the show has no `nodes:`"),
    ]
    for args, says in cases:
        assert main(["fleet", *args]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and says in err[0], err


def test_a_looping_show_folds_the_fleet_clock_into_its_period():
    from decart_flow.fleet.clock import apart, fold

    assert fold(125.0, 60.0) == pytest.approx(5.0) and fold(125.0, None) == 125.0 and fold(-0.3, 60.0) == -0.3
    assert apart(59.99, 0.01, 60.0) == pytest.approx(-0.02)  # just before the end vs just after: 20 ms, not 60 s
    assert apart(0.01, 59.99, 60.0) == pytest.approx(0.02)
    assert apart(10.0, 7.0, None) == 3.0
