"""What the control plane's logic needs from storage and the outside, one module per concept.

Each module holds the protocols, the records they answer (frozen dataclasses) and the exceptions
their implementations raise (one documented class per failure). Services and routes import these,
never adapters/ (tests/unit/test_import_contract.py); adapters/ implements them on AWS, and
wiring.py alone builds them.

Nothing is re-exported here: import the concept's module (`zapgate_control.ports.instances`), so a
function loads only the records it uses (their dataclasses cost cold-start time).
"""
