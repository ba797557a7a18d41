"""The operations a sidecar can be asked (requests to the phone), one module per concern.

Each operation has an arguments model and a result model; `contract/requests.py` names them
(`RequestOp`) and maps each name to its two models. Arguments travel as the control plane stored
them: chats, users and groups are already JIDs (the public API normalised them), message ids are
WhatsApp's. Result models are what the public API answers.
"""
