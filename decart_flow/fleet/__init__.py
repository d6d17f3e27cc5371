"""One show across machines, met on an MQTT broker (issue 17, SHOW_FORMAT.md "A show across machines").

- `clock.py`: the controller's show clock as one retained message, and the show's topics.
- `broker.py`: the broker's address and credentials, and a connection that survives restarts.
- `node.py`: `run --node NAME --broker URL`: the engine on the fleet's clock, events show-wide.
- `controller.py`: `fleet SHOW --broker URL`: owns the clock, watches every node.
- `command.py`, `tui.py`: the `fleet` command, headless or in a Textual TUI.
- `checks.py`: `--node`/`--broker` checked before a run starts.
"""
