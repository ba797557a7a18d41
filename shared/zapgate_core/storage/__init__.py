"""Storage shared by the control plane and the sidecar; AWS clients are passed in, never imported here."""
