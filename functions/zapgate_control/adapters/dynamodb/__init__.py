"""DynamoDB adapters. Every state change is a conditional write; no sidecar path scans."""
