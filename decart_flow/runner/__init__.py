"""`decart-flow run`: wires a show, the engine, a live session, media and the front end together."""
