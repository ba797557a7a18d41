"""This account's own profile: its push name and its about text."""

from __future__ import annotations

from pydantic import Field

from zapgate_core.contract.base import ContractModel

MAX_PUSH_NAME = 25  # WhatsApp's limit on a profile name
MAX_ABOUT = 139  # WhatsApp's limit on the about text


class ProfileNameArgs(ContractModel):
    name: str = Field(min_length=1, max_length=MAX_PUSH_NAME)


class ProfileAboutArgs(ContractModel):
    about: str = Field(max_length=MAX_ABOUT, description="Empty clears it")
