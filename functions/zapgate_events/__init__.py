"""The events processor Lambda: EventsQueue → the tenants' webhooks (docs/events.md)."""
