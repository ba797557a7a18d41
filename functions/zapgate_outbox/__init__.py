"""EventsPublisherFunction: MessagesTable's stream → EventsQueue (the events outbox, docs/events.md)."""
