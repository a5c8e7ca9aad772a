"""A second platform, written apart from streamload, to check the checker.

streamload's receivers and checker share their core (``harness/``) with the
reference platform (``harness/platform/``): one misreading of the contract
could hide in both. This package implements the same public contract again,
from the vendors' documents only, and imports nothing from ``harness``,
``receivers``, ``reports`` or ``scenarios`` (``test_contract.py`` checks that
over the package's syntax trees):

- SignalWire Compatibility REST, conference streams:
  https://signalwire.com/docs/compatibility-api/rest/conferences (create, update/stop)
- the WebSocket messages and status callback of ``<Stream>``:
  https://signalwire.com/docs/compatibility-api/cxml/reference/voice/stream
- error codes: https://signalwire.com/docs/compatibility-api/rest/core/error-codes
- webhook signatures:
  https://signalwire.com/docs/compatibility-api/cxml/guides/webhooks/webhook-security

``python -m tests.independent --help`` serves it; ``--defect NAME`` breaks one
point of the contract on purpose (:data:`tests.independent.contract.DEFECTS`).
"""
