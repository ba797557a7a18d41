"""zapgate_control: the control plane's logic and its adapters, shared by the Lambda apps.

ports.py names what the logic needs from storage; adapters/ implements it on DynamoDB and S3;
errors.py and observability.py are the HTTP and telemetry edges both apps install.
"""
