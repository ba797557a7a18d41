"""The real WhatsApp transport: one neonize (whatsmeow) client per session, split by concern.

- ``transport``: ``NeonizeTransport``, the WhatsAppTransport port's implementation (opens sessions).
- ``session`` (lifecycle) over ``session_core`` (state, fenced Go calls, event emission),
  ``session_receiving`` (Go's events), ``session_linking`` (QR and pairing code) and
  ``session_commands`` (send, download, groups, logout) and ``session_requests`` (requests to the phone:
  check numbers, chat presence).
- ``loading``: imports and patches neonize, once and lazily.
- ``errors``: whatsmeow/neonize error texts → port events and errors (unreachable, logged out, ...).
- ``outbound_builders``: the protobufs of what we send; ``jids``: JIDs ↔ neonize's JID protobuf.
- ``inbound_mapping`` (events → port events) over ``inbound_content`` (what a message carries) and
  ``poll_votes`` (decrypted votes, poll option names).

Nothing here imports neonize at module level: importing it loads its Go library (0.25-0.5 s and
~50 MB RSS, see docs/benchmarks-sidecar.md), which happens only once a session starts.
"""
