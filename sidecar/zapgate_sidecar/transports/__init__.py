"""Transport adapters of the real WhatsApp network (neonize); the simulated network's lives in zapgate_sim."""
