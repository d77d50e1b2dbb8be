"""Retrying platform actions in Chromium: a failed public reply, and a private message whose
outcome is unknown, which needs the agent's check first; the page follows live."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page

from inbox.models import Channel, OutboxAction, OutboxKind, OutboxState, Platform, Ticket
from inbox.services import pipeline
from tests import factories
from tests.browser.conftest import BrowserJourney
from tests.browser.test_agent_inbox import PASSWORD, agent, off_loop


def _ticket_with_failed_reply_and_unknown_dm(*, simulator: Any, team: Any) -> Ticket:
    """Through the real pipeline on X: the public reply is refused (403), and the private
    link into the customer's DM gets a 503, so it may have arrived (``unknown``)."""
    channel = factories.simulated_channel(team=team, simulator=simulator, platform=Platform.X)
    simulator.sim.add_fault(
        "server_error", platform="x", method="POST", path="/2/tweets", status=403
    )
    simulator.sim.customer_x_mention("my parcel never came, call me on +49 151 23456789")
    pipeline.poll_channel(channel_id=channel.pk)
    simulator.sim.add_fault(
        "server_error", platform="x", method="POST", path="/2/dm_conversations/*", status=503
    )
    simulator.sim.customer_x_dm("Here is my DM as you asked")
    Channel.objects.filter(pk=channel.pk).update(next_poll_at=None)
    pipeline.poll_channel(channel_id=channel.pk)
    return Ticket.objects.get(channel=channel)


def _perform(action_id: int) -> str:
    """What a worker does with the queued task (the live server has no worker of its own)."""
    return pipeline.perform_action(action_id=action_id).state


@pytest.mark.browser
class AgentRetryJourney(BrowserJourney):
    def new_page(self) -> Page:
        return self.watched_page(viewport={"width": 1280, "height": 900})[1]

    def test_agent_retries_a_failed_reply_and_a_checked_unknown_private_message(self) -> None:
        team = factories.TeamFactory(name="Support")
        agent(team, "erin")
        ticket = off_loop(
            _ticket_with_failed_reply_and_unknown_dm, simulator=self.simulator, team=team
        )
        reply = OutboxAction.objects.get(ticket=ticket, kind=OutboxKind.PUBLIC_REPLY)
        private = OutboxAction.objects.get(ticket=ticket, kind=OutboxKind.PRIVATE_MESSAGE)
        assert (reply.state, private.state) == (OutboxState.FAILED, OutboxState.UNKNOWN)
        page = self.new_page()
        page.goto(f"{self.live_server_url}/login/")
        page.get_by_label("Username").fill("erin")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{self.live_server_url}/")

        page.goto(f"{self.live_server_url}/tickets/{ticket.public_id}/")
        page.locator("html[data-live='open']").wait_for(state="attached")
        reply_row = page.locator(f"#action-{reply.public_id}")
        private_row = page.locator(f"#action-{private.public_id}")
        assert "Failed" in reply_row.inner_text()
        assert "Retrying may post it twice." in private_row.inner_text()
        self.shot(page, "agent-retry-offered")

        # The failed reply: one click queues it; the worker posts it and the page follows.
        with page.expect_navigation(url="**?done=action_retried"):
            reply_row.get_by_role("button", name="Retry").click()
        assert "Haven is trying again." in page.locator(".notice").inner_text()
        assert "Pending" in page.locator(f"#action-{reply.public_id}").inner_text()
        page.locator("html[data-live='open']").wait_for(state="attached")
        assert off_loop(_perform, action_id=reply.pk) == OutboxState.SENT
        page.locator(f"#action-{reply.public_id} .state-sent").wait_for()
        assert len(self.simulator.sim.snapshot()["x"]["replies"]) == 1

        # The unknown private message: the browser will not send the form until the agent
        # says they checked the conversation on the platform.
        private_row = page.locator(f"#action-{private.public_id}")
        private_row.get_by_role("button", name="Retry").click()  # refused by the browser
        private.refresh_from_db()
        assert private.state == OutboxState.UNKNOWN
        assert private_row.get_by_role("checkbox").evaluate("box => !box.validity.valid")
        private_row.get_by_label(
            "I checked: the private message is not in the conversation on the platform."
        ).check()
        self.shot(page, "agent-retry-unknown-checked")
        with page.expect_navigation(url="**?done=action_retried"):
            private_row.get_by_role("button", name="Retry").click()
        private.refresh_from_db()
        assert private.state == OutboxState.PENDING
        page.locator("html[data-live='open']").wait_for(state="attached")
        assert off_loop(_perform, action_id=private.pk) == OutboxState.SENT
        page.locator(f"#action-{private.public_id} .state-sent").wait_for()
        dms = self.simulator.sim.snapshot()["x"]["dms_sent"]
        assert len(dms) == 1
        assert "/r/#t=" in str(dms[0]["text"])
        assert page.get_by_role("button", name="Retry").count() == 0
        self.shot(page, "agent-retry-done")
        violations = page.evaluate("window.__haven_csp || []")
        assert self.problems + [f"csp: {v}" for v in violations] == []
