"""Contacts and LID↔phone mappings for sidecars."""

from __future__ import annotations

from zapgate_control.ports.contacts import ContactStore
from zapgate_core.contract.worker_proxy import (
    ContactResolveRequest,
    ContactResolveResponse,
    PrimaryJidResponse,
)
from zapgate_core.domain.jids import is_lid, jid_type_of, pn_jid


def resolve(contacts: ContactStore, request: ContactResolveRequest) -> ContactResolveResponse:
    jid_type = request.jid_type or jid_type_of(request.jid)
    contact_id, operation = contacts.resolve(request.instance_id, request.jid, jid_type, request.push_name)
    return ContactResolveResponse(contact_id=contact_id, operation=operation)


def primary_jid(contacts: ContactStore, instance_id: str, jid: str) -> PrimaryJidResponse:
    if not is_lid(jid):
        # Already a phone JID (or a group): it is its own primary.
        phone = pn_jid(jid)
        return PrimaryJidResponse(jid_pn=phone, jid=phone or jid)
    phone = contacts.phone_for(instance_id, jid)
    return PrimaryJidResponse(jid_pn=phone, jid=phone)
