"""Adapters at the edge of the control plane: DynamoDB and S3 implementations of ports.py."""
