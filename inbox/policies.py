"""Pure decisions: what to do with one message under one channel policy. No I/O, no ORM.

``decide`` takes plain values (the policy, the findings' labels and scores, facts about the item
and what the platform allows) and returns a frozen ``Decision`` that says what to do and why.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from inbox.language_data import DEFAULT_TEMPLATES, PRIVATE_TEMPLATES, STOPWORDS, SUPPORT_CUES

MODE_REDIRECT_ON_PII = "redirect_on_pii"
MODE_REDIRECT_SUPPORT = "redirect_support"
MODE_OBSERVE = "observe"

STYLE_LINK = "link"
STYLE_ASK_DM = "ask_dm"

LANGUAGES = ("en", "de", "fr", "es", "it", "nl")

_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


@dataclass(frozen=True, slots=True)
class PolicyView:
    """The parts of a ChannelPolicy that decisions depend on, as plain values."""

    mode: str = MODE_REDIRECT_ON_PII
    trigger_labels: frozenset[str] = frozenset()
    min_score: float = 0.5
    hide_original: bool = True
    send_private_link: bool = True
    x_reply_style: str = STYLE_ASK_DM


@dataclass(frozen=True, slots=True)
class FindingView:
    entity: str
    score: float


@dataclass(frozen=True, slots=True)
class ItemFacts:
    platform: str
    kind: str
    from_self: bool = False
    support_cue: bool = False
    joins_open_ticket: bool = False
    ticket_awaits_dm: bool = False


@dataclass(frozen=True, slots=True)
class Allowed:
    """What the platform allows for this item now (from the connector's capabilities)."""

    reply_publicly: bool = True
    hide: bool = True
    send_private: bool = True
    reply_cost_usd: float = 0.0
    reply_url_cost_usd: float = 0.0
    private_cost_usd: float = 0.0


@dataclass(frozen=True, slots=True)
class Decision:
    open_ticket: bool
    redirect: bool
    public_reply: bool
    reply_style: str
    hide: bool
    send_private: bool
    triggering_labels: tuple[str, ...]
    reasons: tuple[str, ...] = field(default=())
    estimated_cost_usd: float = 0.0

    def as_json(self) -> dict[str, object]:
        return {
            "open_ticket": self.open_ticket,
            "redirect": self.redirect,
            "public_reply": self.public_reply,
            "reply_style": self.reply_style,
            "hide": self.hide,
            "send_private": self.send_private,
            "labels": list(self.triggering_labels),
            "reasons": list(self.reasons),
            "estimated_cost_usd": round(self.estimated_cost_usd, 4),
        }


def triggering(policy: PolicyView, findings: Iterable[FindingView]) -> tuple[str, ...]:
    """The labels that count under this policy (its label list and minimum score), sorted."""
    labels = {
        f.entity
        for f in findings
        if f.score >= policy.min_score
        and (not policy.trigger_labels or f.entity in policy.trigger_labels)
    }
    return tuple(sorted(labels))


def decide(
    policy: PolicyView,
    findings: Sequence[FindingView],
    item: ItemFacts,
    allowed: Allowed,
) -> Decision:
    """What to do with one item. Our own posts and observe mode never act on the platform."""
    labels = triggering(policy, findings)
    reasons: list[str] = []
    if item.from_self:
        return Decision(False, False, False, STYLE_LINK, False, False, (), ("own post",))

    if policy.mode == MODE_OBSERVE:
        reasons.append("observe mode: no action on the platform")
        redirect = False
    elif item.joins_open_ticket:
        reasons.append("joins the author's open ticket")
        redirect = False
    elif policy.mode == MODE_REDIRECT_SUPPORT and (labels or item.support_cue):
        reasons.append("support message" if item.support_cue else "personal data found")
        redirect = True
    elif labels:
        reasons.append("personal data found: " + ", ".join(labels))
        redirect = True
    else:
        reasons.append("no personal data at or above the minimum score")
        redirect = False

    open_ticket = (
        redirect
        or item.joins_open_ticket
        or (policy.mode == MODE_OBSERVE and bool(labels or item.support_cue))
    )
    is_dm = item.kind == "dm"
    reply_style = policy.x_reply_style if item.platform == "x" else STYLE_LINK
    public_reply = redirect and not is_dm and allowed.reply_publicly
    if redirect and not is_dm and not allowed.reply_publicly:
        reasons.append("the platform does not allow a public reply here")

    # Hide public copies that carry personal data, even in a joined thread.
    hide = (
        policy.mode != MODE_OBSERVE
        and policy.hide_original
        and bool(labels)
        and not is_dm
        and allowed.hide
    )
    if policy.hide_original and labels and not is_dm and not allowed.hide:
        reasons.append("the platform does not allow hiding this item")

    wants_private = (
        policy.mode != MODE_OBSERVE and policy.send_private_link and allowed.send_private
    )
    if is_dm:
        # A DM from the author is itself private: answer it with the secret link.
        send_private = wants_private and (redirect or item.ticket_awaits_dm)
    else:
        send_private = (
            wants_private
            and redirect
            and not (item.platform == "x" and reply_style == STYLE_ASK_DM)
        )

    cost = 0.0
    if public_reply:
        cost += allowed.reply_url_cost_usd if reply_style == STYLE_LINK else allowed.reply_cost_usd
    if send_private:
        cost += allowed.private_cost_usd
    return Decision(
        open_ticket=open_ticket,
        redirect=redirect,
        public_reply=public_reply,
        reply_style=reply_style,
        hide=hide,
        send_private=send_private,
        triggering_labels=labels,
        reasons=tuple(reasons),
        estimated_cost_usd=cost,
    )


def find_support_cue(text: str, extra_cues: Iterable[str] = ()) -> bool:
    """Whether the text reads as a complaint or an enquiry, in any of the six languages."""
    lowered = text.casefold()
    words = set(_WORD.findall(lowered))
    for cues in (*SUPPORT_CUES.values(), tuple(extra_cues)):
        for cue in cues:
            cue = cue.casefold().strip()
            if not cue:
                continue
            if (" " in cue and cue in lowered) or cue in words:
                return True
    return False


def guess_language(text: str, default: str = "en") -> str:
    """The most likely of the six languages by frequent short words; ``default`` on a tie."""
    words = _WORD.findall(text.casefold())
    best, best_hits = default, 0
    for language, stopwords in STOPWORDS.items():
        hits = sum(1 for w in words if w in stopwords)
        if hits > best_hits:
            best, best_hits = language, hits
    return best


def render_reply(template: str, *, link: str, ref: str) -> str:
    """Substitute ``{link}`` and ``{ref}`` literally; nothing else in the template is evaluated.

    The ticket reference is the marker ``find_own_reply`` relies on, so it is appended when a
    template lacks it.
    """
    text = template.replace("{link}", link).replace("{ref}", ref)
    if ref not in text:
        text = f"{text} ({ref})"
    return text


def template_for(templates: dict[str, str], style: str, language: str) -> str:
    """The admin's template for this language, else the default for it, else English."""
    key = f"{style}:{language}"
    for candidate in (templates.get(key), templates.get(language) if style == STYLE_LINK else None):
        if candidate:
            return candidate
    defaults = DEFAULT_TEMPLATES[style]
    return defaults.get(language, defaults["en"])


def validate_template(template: str, style: str) -> list[str]:
    """Problems with an admin's reply template, as user-facing sentences (empty when fine)."""
    problems = []
    if style == STYLE_LINK and "{link}" not in template:
        problems.append("The template must contain {link}.")
    if style == STYLE_ASK_DM and "{link}" in template:
        problems.append("A 'please DM us' reply must not contain a link.")
    if "{ref}" not in template:
        problems.append("The template must contain {ref}, the ticket reference.")
    if len(template) > 240:
        problems.append("Keep the template under 240 characters (X's limit with the link is 280).")
    leftover = re.sub(r"\{(link|ref)\}", "", template)
    if "{" in leftover or "}" in leftover:
        problems.append("Only {link} and {ref} may appear in braces.")
    return problems


def private_text(*, language: str, link: str) -> str:
    """The private message that carries the secret link (never sent publicly)."""
    template = PRIVATE_TEMPLATES.get(language, PRIVATE_TEMPLATES["en"])
    return template.replace("{link}", link)
