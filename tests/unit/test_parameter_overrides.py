"""ZAPGATE_PARAMETER_OVERRIDES: `make run`'s counterpart of `sam deploy --parameter-overrides`."""

from __future__ import annotations

import pytest

from zapgate_devstack.template import load_template, parameter_overrides

TEMPLATE = {
    "Parameters": {
        "RetryBase": {"Type": "Number", "Default": 30, "MinValue": 0, "MaxValue": 900},
        "Workers": {"Type": "String", "Default": "sidecar", "AllowedValues": ["sidecar", "external", "none"]},
        "BusName": {"Type": "String", "Default": ""},
    }
}


def test_pairs_are_parsed_as_sam_deploy_takes_them() -> None:
    assert parameter_overrides("", TEMPLATE) == {}
    assert parameter_overrides("  RetryBase=0   Workers=none ", TEMPLATE) == {"RetryBase": "0", "Workers": "none"}
    assert parameter_overrides("BusName='a b' RetryBase=1", TEMPLATE) == {"BusName": "a b", "RetryBase": "1"}
    assert parameter_overrides("BusName=", TEMPLATE) == {"BusName": ""}
    assert parameter_overrides("BusName=x=y", TEMPLATE) == {"BusName": "x=y"}  # only the first = splits
    assert parameter_overrides("RetryBase=1 RetryBase=2", TEMPLATE) == {"RetryBase": "2"}  # the last one wins


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("RetryBase", "is not Name=Value"),
        ("=5", "is not Name=Value"),
        ("Nope=1", "Nope is not a parameter of template.yaml"),
        ("Workers=lambda", "is not one of"),
        ("RetryBase=soon", "is not a number"),
        ("RetryBase=-1", "is outside [0, 900]"),
        ("RetryBase=901", "is outside [0, 900]"),
        ("BusName='unclosed", "cannot parse"),
    ],
)
def test_what_cloudformation_would_refuse_is_refused(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason.replace("[", r"\[")):
        parameter_overrides(text, TEMPLATE)


def test_the_real_template_takes_the_webhook_retry_base() -> None:
    assert parameter_overrides("WebhookRetryBaseSeconds=0", load_template()) == {"WebhookRetryBaseSeconds": "0"}
