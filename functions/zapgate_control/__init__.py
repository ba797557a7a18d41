"""zapgate_control: the control plane's logic and its adapters, shared by the Lambda apps.

ports/ names what the logic needs (protocols, records, errors); services/ is the logic; adapters/
implements the ports on AWS and wiring.py alone builds them (docs/architecture.md#ports-and-adapters);
errors.py and observability.py are the HTTP and telemetry edges both apps install.
"""
