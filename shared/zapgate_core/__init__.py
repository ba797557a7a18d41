"""zapgate_core: what the control plane and the sidecar share.

`contract` holds the worker-proxy wire models (defined once, used by both sides);
`domain` holds the rules (locks, outbound queue states, JID handling) as plain Python,
with no boto3 or neonize import, so either side can apply them and tests need no AWS.
"""
