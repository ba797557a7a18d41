"""Transport adapters: neonize (the real WhatsApp network) and sim (a deterministic fake network)."""
