"""Every write and side effect of the inbox, split by sub-domain. Import from here.

- ``channels``: connecting social accounts, credentials, terms review, switching on and off.
- ``threads``: opening tickets and adding encrypted messages (used by every other area).
- ``secrets``: portal secrets (issued, hashed, revoked).
- ``pipeline``: ingest, process, perform outbox actions, poll, sweep (DESIGN's flow).
"""

from inbox.services.channels import (
    create_channel,
    enable_channel,
    pause_channel,
    record_terms_review,
    set_channel_credentials,
)

__all__ = [
    "create_channel",
    "enable_channel",
    "pause_channel",
    "record_terms_review",
    "set_channel_credentials",
]
