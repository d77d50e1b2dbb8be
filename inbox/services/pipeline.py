"""The pipeline of DESIGN.md, one import away: ingest, process, perform, poll, sweep.

Every step is idempotent and safe to retry. The steps live in their own modules:
``connectors`` (connectors, queueing, channel health), ``ingest``, ``processing``, ``outbox``
and ``polling``; tasks, webhooks and commands use them through this module.
"""

from inbox.services.connectors import connector_for, item_from_inbound, mark_needs_reauth
from inbox.services.ingest import IngestResult, ingest_items
from inbox.services.outbox import (
    MAX_ACTION_ATTEMPTS,
    PerformOutcome,
    perform_action,
    perform_actions,
)
from inbox.services.polling import (
    SWEEP_AFTER,
    PollOutcome,
    SweepResult,
    TickResult,
    claim_due_channels,
    poll_channel,
    run_inline,
    sweep,
)
from inbox.services.processing import (
    MAX_PROCESS_ATTEMPTS,
    PROCESS_BATCH,
    BatchOutcome,
    ProcessOutcome,
    RedactionFailed,
    process_message,
    process_messages,
)

__all__ = [
    "MAX_ACTION_ATTEMPTS",
    "MAX_PROCESS_ATTEMPTS",
    "PROCESS_BATCH",
    "SWEEP_AFTER",
    "BatchOutcome",
    "IngestResult",
    "PerformOutcome",
    "PollOutcome",
    "ProcessOutcome",
    "RedactionFailed",
    "SweepResult",
    "TickResult",
    "claim_due_channels",
    "connector_for",
    "ingest_items",
    "item_from_inbound",
    "mark_needs_reauth",
    "perform_action",
    "perform_actions",
    "poll_channel",
    "process_message",
    "process_messages",
    "run_inline",
    "sweep",
]
