"""The local stack: moto as the AWS emulation, resources created from template.yaml, uvicorn serving the apps."""
