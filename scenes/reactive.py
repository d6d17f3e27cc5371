"""A Python show: an OSC fader drives the storm, key 1 dives underwater.

Try it with `decart-flow run scenes/reactive.py --osc-port 9000`, then send floats to /fader.
"""

from reactivex import operators as ops

from decart_flow import Show, go, image, log, mirror, prompt, wait

show = Show(
    "Storm fader",
    model="lucy-restyle-2",
    initial=prompt("Calm harbour at dusk"),
    duration="3m",
    vars={"city": "Lisbon"},
)

show.timeline("0:10", prompt("Harbour of {city}, evening fog"))
show.timeline("0:30", image("refs/neon.png", prompt="Neon reflections on wet stones"))
show.timeline("1:00", mirror(True), log("mirrored"))
show.every("20s", prompt.cycle("Lego harbour", "Watercolor harbour", "Claymation harbour"), start="1:30", until="2:30")
show.on("key n", go("next"))


@show.on("key 1")
async def underwater(session):
    await session.set_prompt("Underwater kingdom", enhance=False)


def level(args):
    """The fader's 0..1 as 0..10, or None for a message that holds no number (`/fader "abc"`)."""
    try:
        value = float(args[0])
    except (IndexError, TypeError, ValueError):
        return None
    return round(min(max(value, 0.0), 1.0) * 10) if value == value else None  # NaN is no level


@show.reactive
def fader(events):
    # The fader sends 0..1; quantise it so that small moves do not flood the service.
    # (Were the pipeline to raise anyway, the engine journals the failure and the cue goes on.)
    return events.osc("/fader").pipe(
        ops.map(level),
        ops.filter(lambda level: level is not None),
        ops.distinct_until_changed(),
        ops.map(lambda level: prompt(f"Storm over the harbour, intensity {level} of 10")),
    )


show.at("2:50", prompt("Calm after the storm"), then=[wait("3s"), log("curtain")])
