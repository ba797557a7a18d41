"""The WebSocket API's Lambda: live updates to frontends (docs/api.md#live-updates)."""
