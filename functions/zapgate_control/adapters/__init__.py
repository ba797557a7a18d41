"""Adapters at the edge of the control plane: AWS implementations of ports/ (built only by wiring.py)."""
