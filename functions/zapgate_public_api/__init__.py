"""The public API Lambda (/v1): instances, their QR/status, sending and message history for frontends."""
