"""Policies: pure decisions, covered with plain tables."""

from __future__ import annotations

import pytest

from inbox import policies
from inbox.policies import Allowed, FindingView, ItemFacts, PolicyView

PHONE = [FindingView("PHONE", 0.9)]
WEAK = [FindingView("PHONE", 0.2)]


@pytest.mark.parametrize(
    ("policy", "findings", "item", "allowed", "expected"),
    [
        # mode, findings, item: (redirect, public_reply, hide, send_private)
        (
            PolicyView(),
            PHONE,
            ItemFacts("facebook", "comment"),
            Allowed(),
            (True, True, True, True),
        ),
        (
            PolicyView(),
            [],
            ItemFacts("facebook", "comment"),
            Allowed(),
            (False, False, False, False),
        ),
        (
            PolicyView(),
            WEAK,
            ItemFacts("facebook", "comment"),
            Allowed(),
            (False, False, False, False),
        ),
        (
            PolicyView(min_score=0.1),
            WEAK,
            ItemFacts("facebook", "comment"),
            Allowed(),
            (True, True, True, True),
        ),
        (
            PolicyView(trigger_labels=frozenset({"EMAIL"})),
            PHONE,
            ItemFacts("x", "mention"),
            Allowed(),
            (False, False, False, False),
        ),
        (
            PolicyView(hide_original=False),
            PHONE,
            ItemFacts("facebook", "comment"),
            Allowed(),
            (True, True, False, True),
        ),
        (
            PolicyView(send_private_link=False),
            PHONE,
            ItemFacts("facebook", "comment"),
            Allowed(),
            (True, True, True, False),
        ),
        (PolicyView(), PHONE, ItemFacts("x", "mention"), Allowed(), (True, True, True, False)),
        (
            PolicyView(x_reply_style="link"),
            PHONE,
            ItemFacts("x", "mention"),
            Allowed(),
            (True, True, True, True),
        ),
        (
            PolicyView(),
            PHONE,
            ItemFacts("x", "mention"),
            Allowed(hide=False),
            (True, True, False, False),
        ),
        (
            PolicyView(),
            PHONE,
            ItemFacts("x", "reply"),
            Allowed(reply_publicly=False),
            (True, False, True, False),
        ),
        (
            PolicyView(mode="observe"),
            PHONE,
            ItemFacts("facebook", "comment"),
            Allowed(),
            (False, False, False, False),
        ),
        (
            PolicyView(mode="redirect_support"),
            [],
            ItemFacts("x", "mention", support_cue=True),
            Allowed(),
            (True, True, False, False),
        ),
        (
            PolicyView(mode="redirect_support"),
            [],
            ItemFacts("x", "mention"),
            Allowed(),
            (False, False, False, False),
        ),
        (PolicyView(), PHONE, ItemFacts("x", "dm"), Allowed(), (True, False, False, True)),
        (
            PolicyView(),
            [],
            ItemFacts("x", "dm", joins_open_ticket=True, ticket_awaits_dm=True),
            Allowed(),
            (False, False, False, True),
        ),
        (
            PolicyView(),
            PHONE,
            ItemFacts("x", "reply", joins_open_ticket=True),
            Allowed(),
            (False, False, True, False),
        ),
        (
            PolicyView(),
            PHONE,
            ItemFacts("x", "mention", from_self=True),
            Allowed(),
            (False, False, False, False),
        ),
    ],
)
def test_decide_table(
    policy: PolicyView,
    findings: list[FindingView],
    item: ItemFacts,
    allowed: Allowed,
    expected: tuple[bool, bool, bool, bool],
) -> None:
    decision = policies.decide(policy, findings, item, allowed)

    assert (
        decision.redirect,
        decision.public_reply,
        decision.hide,
        decision.send_private,
    ) == expected
    assert decision.reasons


def test_decide_observe_mode_still_opens_ticket_for_personal_data() -> None:
    decision = policies.decide(
        PolicyView(mode="observe"), PHONE, ItemFacts("x", "mention"), Allowed()
    )

    assert decision.open_ticket
    assert not decision.public_reply


def test_decide_estimates_x_cost_by_reply_style() -> None:
    allowed = Allowed(reply_cost_usd=0.015, reply_url_cost_usd=0.2)

    ask_dm = policies.decide(PolicyView(), PHONE, ItemFacts("x", "mention"), allowed)
    link = policies.decide(
        PolicyView(x_reply_style="link"), PHONE, ItemFacts("x", "mention"), allowed
    )

    assert ask_dm.estimated_cost_usd == pytest.approx(0.015)
    assert link.estimated_cost_usd == pytest.approx(0.2)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("My order never arrived", True),
        ("Meine Bestellung ist kaputt", True),
        ("ma commande ne fonctionne pas", True),
        ("mi pedido no funciona", True),
        ("il mio ordine è rotto", True),
        ("mijn bestelling werkt niet", True),
        ("love the new ad!", False),
        ("orderly queue at the launch", False),
    ],
)
def test_find_support_cue_six_languages(text: str, expected: bool) -> None:
    assert policies.find_support_cue(text) is expected


def test_find_support_cue_uses_admin_extension() -> None:
    assert policies.find_support_cue("the widget squeaks", ["squeaks"])
    assert not policies.find_support_cue("the widget squeaks")


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("my parcel is not here and I want it", "en"),
        ("ich habe meine Bestellung nicht bekommen, bitte", "de"),
        ("je ne trouve pas ma commande, merci", "fr"),
        ("no encuentro mi pedido, por favor", "es"),
        ("non trovo il mio ordine, per favore", "it"),
        ("ik heb mijn bestelling niet ontvangen", "nl"),
    ],
)
def test_guess_language(text: str, language: str) -> None:
    assert policies.guess_language(text) == language


def test_reply_template_does_not_evaluate_customer_text() -> None:
    template = "Hi {customer} {link} {ref} {0} {__class__}"

    text = policies.render_reply(template, link="https://h.example/s/abc", ref="HV-1")

    assert text == "Hi {customer} https://h.example/s/abc HV-1 {0} {__class__}"


def test_render_reply_appends_missing_reference_marker() -> None:
    assert policies.render_reply("Go to {link}", link="L", ref="HV-9").endswith("(HV-9)")


@pytest.mark.parametrize(
    ("template", "style", "ok"),
    [
        ("Continue at {link} ref {ref}", "link", True),
        ("Continue at ref {ref}", "link", False),
        ("Please DM us with {ref}", "ask_dm", True),
        ("Please DM us {link} {ref}", "ask_dm", False),
        ("Hi {name} {link} {ref}", "link", False),
    ],
)
def test_validate_template(template: str, style: str, ok: bool) -> None:
    assert (policies.validate_template(template, style) == []) is ok


def test_default_templates_are_valid_in_every_language() -> None:
    for style, templates in policies.DEFAULT_TEMPLATES.items():
        for language in policies.LANGUAGES:
            assert policies.validate_template(templates[language], style) == [], (style, language)
