"""The control plane's logic: routes call these, these call the ports. No HTTP, no boto3 here."""
