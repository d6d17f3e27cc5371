"""The LiveKit side of today's protocol: access tokens, rooms, and the `/rtc` signalling.

Only what one Decart session needs: one publisher (the client's camera), the
`inference-server-<id>` participant whose track is the rendered video, and subscribe-only
viewers. WebRTC is aiortc; the wire messages are LiveKit's protobufs from `livekit-protocol`.
"""
