"""Request and response bodies of the public API (/v1).

Requests forbid unknown fields: a misspelt `enabeld` or `queueIfOffline` must fail loudly
rather than be silently ignored. Booleans and integers are strict, so `"false"` or `1` are
refused instead of being guessed at. Responses are built from the stores' records with
`from_record`, which picks only the fields the API promises (storage keys, lock fields or
`send_debug` never leave the control plane).

One module per resource; this package re-exports the ones routes use.
"""


from zapgate_public_api.models.base import Direction, ErrorBody, ErrorResponse, RequestModel
from zapgate_public_api.models.instances import Instance, InstanceCreate, InstancePage, InstancePatch
from zapgate_public_api.models.messages import Conversation, ConversationPage, Message, MessagePage
from zapgate_public_api.models.sending import MessageAccepted, SendMessage

__all__ = [
    "Conversation", "ConversationPage", "Direction", "ErrorBody", "ErrorResponse", "Instance", "InstanceCreate",
    "InstancePage", "InstancePatch", "Message", "MessageAccepted", "MessagePage", "RequestModel", "SendMessage",
]  # fmt: skip
