"""Facebook connector behaviour on the real facebook-sdk, with recorded-shape responses."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from channels_bridge import errors
from channels_bridge.facebook import FACEBOOK_CAPABILITIES, FacebookConnector
from channels_bridge.items import ItemKind
from tests.channels_bridge.conftest import FB_CREDENTIALS, FB_PAGE, GRAPH, load, make_item

ANY_GRAPH = re.compile(re.escape(GRAPH) + r"/.*")


def _form(call: responses.Call) -> dict[str, str]:
    body = call.request.body
    text = body.decode() if isinstance(body, bytes) else str(body)
    return {k: v[0] for k, v in parse_qs(text).items()}


def _query(call: responses.Call) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(call.request.url or "").query).items()}


def test_facebook_pins_the_graph_version_in_every_path(
    fb: FacebookConnector, mocked: responses.RequestsMock
) -> None:
    mocked.get(ANY_GRAPH, json={"data": []})
    fb.fetch_since(None)
    assert mocked.calls
    assert all(urlsplit(c.request.url or "").path.startswith("/v26.0/") for c in mocked.calls)


def test_facebook_version_can_be_set_per_connector(mocked: responses.RequestsMock) -> None:
    mocked.get(re.compile(r"https://graph\.facebook\.com/v25\.0/.*"), json={"data": []})
    FacebookConnector(FB_CREDENTIALS, version="v25.0").fetch_since(None)
    assert mocked.calls


def test_facebook_base_url_points_the_sdk_elsewhere(mocked: responses.RequestsMock) -> None:
    mocked.get(re.compile(r"http://127\.0\.0\.1:9/v26\.0/.*"), json={"data": []})
    FacebookConnector(FB_CREDENTIALS, base_url="http://127.0.0.1:9/").fetch_since(None)
    assert all((c.request.url or "").startswith("http://127.0.0.1:9/v26.0/") for c in mocked.calls)


def test_facebook_base_url_must_be_http(mocked: responses.RequestsMock) -> None:
    with pytest.raises(ValueError, match="base_url"):
        FacebookConnector(FB_CREDENTIALS, base_url="ftp://127.0.0.1")


def test_facebook_sends_appsecret_proof_when_it_has_the_app_secret(
    mocked: responses.RequestsMock,
) -> None:
    mocked.get(ANY_GRAPH, json={"data": []})
    FacebookConnector({**FB_CREDENTIALS, "app_secret": "s3cret"}).fetch_since(None)
    expected = hmac.new(
        b"s3cret", FB_CREDENTIALS["page_access_token"].encode(), hashlib.sha256
    ).hexdigest()
    assert {_query(c).get("appsecret_proof") for c in mocked.calls} == {expected}


def test_facebook_appsecret_proof_can_be_switched_off(mocked: responses.RequestsMock) -> None:
    mocked.get(ANY_GRAPH, json={"data": []})
    credentials = {**FB_CREDENTIALS, "app_secret": "s3cret", "appsecret_proof": "false"}
    FacebookConnector(credentials).fetch_since(None)
    assert all("appsecret_proof" not in _query(c) for c in mocked.calls)


@pytest.mark.parametrize("missing", ["page_id", "page_access_token"])
def test_facebook_requires_its_credentials(missing: str) -> None:
    credentials = {k: v for k, v in FB_CREDENTIALS.items() if k != missing}
    with pytest.raises(ValueError, match=missing):
        FacebookConnector(credentials)


def test_facebook_hide_posts_is_hidden_true_as_text(
    fb: FacebookConnector, mocked: responses.RequestsMock
) -> None:
    mocked.post(f"{GRAPH}/111_222", json={"success": True})
    fb.hide(make_item())
    assert _form(mocked.calls[0])["is_hidden"] == "true"


def test_facebook_unhide_posts_is_hidden_false(
    fb: FacebookConnector, mocked: responses.RequestsMock
) -> None:
    mocked.post(f"{GRAPH}/111_222", json={"success": True})
    fb.unhide(make_item())
    assert _form(mocked.calls[0])["is_hidden"] == "false"


def test_facebook_hide_unconfirmed_is_platform_error(
    fb: FacebookConnector, mocked: responses.RequestsMock
) -> None:
    mocked.post(f"{GRAPH}/111_222", json={"success": False})
    with pytest.raises(errors.PlatformError):
        fb.hide(make_item())


def test_facebook_private_reply_targets_the_comment(
    fb: FacebookConnector, mocked: responses.RequestsMock
) -> None:
    mocked.post(f"{GRAPH}/{FB_PAGE}/messages", json=load("facebook", "send_api_response.json"))
    fb.send_private(make_item(), "synthetic link")
    form = _form(mocked.calls[0])
    assert json.loads(form["recipient"]) == {"comment_id": "111_222"}
    assert json.loads(form["message"]) == {"text": "synthetic link"}


def test_facebook_dm_reply_inside_24_hours_is_a_response(
    fb: FacebookConnector, mocked: responses.RequestsMock
) -> None:
    mocked.post(f"{GRAPH}/{FB_PAGE}/messages", json=load("facebook", "send_api_response.json"))
    fb.send_private(make_item(kind=ItemKind.DM, external_id="m_1", author_id="77"), "hi")
    form = _form(mocked.calls[0])
    assert json.loads(form["recipient"]) == {"id": "77"}
    assert form["messaging_type"] == "RESPONSE"
    assert "tag" not in form


def test_facebook_dm_reply_after_24_hours_uses_the_human_agent_tag(
    fb: FacebookConnector, mocked: responses.RequestsMock
) -> None:
    mocked.post(f"{GRAPH}/{FB_PAGE}/messages", json=load("facebook", "send_api_response.json"))
    old = datetime.now(UTC) - timedelta(days=3)
    fb.send_private(make_item(kind=ItemKind.DM, external_id="m_1", created_at=old), "hi")
    form = _form(mocked.calls[0])
    assert (form["messaging_type"], form["tag"]) == ("MESSAGE_TAG", "HUMAN_AGENT")


def test_facebook_reply_to_a_reply_goes_under_its_parent_comment(
    fb: FacebookConnector, mocked: responses.RequestsMock
) -> None:
    mocked.post(f"{GRAPH}/111_100/comments", json={"id": "111_300"})
    item = make_item(kind=ItemKind.REPLY, external_id="111_200", parent_id="111_100")
    assert fb.reply_publicly(item, "synthetic") == "111_300"
    assert _form(mocked.calls[0])["message"] == "synthetic"


def test_facebook_reply_without_id_is_ambiguous(
    fb: FacebookConnector, mocked: responses.RequestsMock
) -> None:
    mocked.post(f"{GRAPH}/111_222/comments", json={})
    with pytest.raises(errors.AmbiguousOutcome):
        fb.reply_publicly(make_item(), "synthetic")


@pytest.mark.parametrize("action", ["reply_publicly", "hide"])
def test_facebook_dm_has_no_public_side(
    fb: FacebookConnector, mocked: responses.RequestsMock, action: str
) -> None:
    item = make_item(kind=ItemKind.DM, external_id="m_1")
    act = fb.hide if action == "hide" else (lambda i: fb.reply_publicly(i, "x"))
    with pytest.raises(errors.PermissionDenied):
        act(item)
    assert not mocked.calls


def test_facebook_find_own_reply_ignores_other_authors_and_older_comments(
    fb: FacebookConnector, mocked: responses.RequestsMock
) -> None:
    item_time = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    mocked.get(
        f"{GRAPH}/111_222/comments",
        json={
            "data": [
                {
                    "id": "111_1",
                    "created_time": "2026-11-01T11:00:00+0000",
                    "from": {"id": FB_PAGE},
                },
                {"id": "111_2", "created_time": "2026-11-01T12:01:00+0000", "from": {"id": "5"}},
                {
                    "id": "111_3",
                    "created_time": "2026-11-01T12:02:00+0000",
                    "from": {"id": FB_PAGE},
                },
            ]
        },
    )
    assert fb.find_own_reply(make_item(created_at=item_time)) == "111_3"


def test_facebook_fetch_marks_page_comments_from_self(
    fb: FacebookConnector, mocked: responses.RequestsMock
) -> None:
    mocked.get(f"{GRAPH}/{FB_PAGE}/feed", json={"data": [{"id": f"{FB_PAGE}_1"}]})
    mocked.get(
        f"{GRAPH}/{FB_PAGE}_1/comments",
        json={
            "data": [
                {"id": "1_1", "created_time": "2026-11-01T11:00:00+0000", "from": {"id": "5"}},
                {
                    "id": "1_2",
                    "created_time": "2026-11-01T11:00:01+0000",
                    "from": {"id": FB_PAGE},
                    "parent": {"id": "1_1"},
                },
            ]
        },
    )
    mocked.get(f"{GRAPH}/{FB_PAGE}/conversations", json={"data": []})
    items = fb.fetch_since(None).items
    assert [(i.external_id, i.kind, i.from_self, i.parent_id) for i in items] == [
        ("1_1", ItemKind.COMMENT, False, f"{FB_PAGE}_1"),
        ("1_2", ItemKind.REPLY, True, "1_1"),
    ]


def test_facebook_fetch_with_nothing_new_keeps_the_cursor(
    fb: FacebookConnector, mocked: responses.RequestsMock
) -> None:
    mocked.get(ANY_GRAPH, json={"data": []})
    assert fb.fetch_since(None).next_cursor is None
    with pytest.raises(ValueError, match="cursor"):
        fb.fetch_since("not-a-cursor")


def test_facebook_capabilities_cover_every_kind_and_are_read_only() -> None:
    assert set(FACEBOOK_CAPABILITIES) == set(ItemKind)
    with pytest.raises(TypeError):
        FACEBOOK_CAPABILITIES[ItemKind.DM] = FACEBOOK_CAPABILITIES[ItemKind.COMMENT]  # type: ignore[index]  # proving it is read-only


def test_facebook_private_reply_allowed_within_seven_days(fb: FacebookConnector) -> None:
    now = datetime.now(UTC)
    fresh = make_item(created_at=now - timedelta(days=6, hours=23))
    stale = make_item(created_at=now - timedelta(days=7, minutes=1))
    assert fb.capabilities_for(fresh, now=now).send_private
    assert fb.capabilities_for(fresh, now=now).private_limit == 1
    stale_caps = fb.capabilities_for(stale, now=now)
    assert not stale_caps.send_private
    assert stale_caps.hide
    assert stale_caps.reply_publicly
    assert stale_caps.reason


def test_facebook_own_post_allows_nothing(fb: FacebookConnector) -> None:
    caps = fb.capabilities_for(make_item(from_self=True), now=datetime.now(UTC))
    assert (caps.reply_publicly, caps.hide, caps.send_private) == (False, False, False)


def test_facebook_logs_no_text_token_or_platform_message(
    fb: FacebookConnector, mocked: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="channels_bridge")
    mocked.post(f"{GRAPH}/111_222/comments", json={"id": "111_9"})
    mocked.get(ANY_GRAPH, json=load("facebook", "error_190_463_session_expired.json"), status=400)
    fb.reply_publicly(make_item(text="secret customer words"), "synthetic reply text")
    with pytest.raises(errors.AuthExpired):
        fb.fetch_since(None)
    logged = caplog.text
    assert caplog.records
    for secret in ("secret customer words", "synthetic reply text", "page-token", "Session has"):
        assert secret not in logged


def test_facebook_warns_when_graph_serves_another_version(
    fb: FacebookConnector, mocked: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    mocked.get(ANY_GRAPH, json={"data": []}, headers={"facebook-api-version": "v27.0"})
    fb.fetch_since(None)
    assert "graph version differs" in caplog.text


def test_facebook_comments_flow_without_messenger_access_and_dms_catch_up_later(
    fb: FacebookConnector, mocked: responses.RequestsMock
) -> None:
    mocked.get(f"{GRAPH}/{FB_PAGE}/feed", json={"data": [{"id": f"{FB_PAGE}_1"}]})
    mocked.get(
        f"{GRAPH}/{FB_PAGE}_1/comments",
        json={"data": [{"id": "1_1", "created_time": "2026-11-01T12:00:00+0000"}]},
    )
    conversations = mocked.get(
        f"{GRAPH}/{FB_PAGE}/conversations",
        json={"error": {"message": "(#10) synthetic", "type": "OAuthException", "code": 10}},
        status=400,
    )
    first = fb.fetch_since(None)
    assert [i.external_id for i in first.items] == ["1_1"]

    mocked.remove(conversations)
    mocked.get(
        f"{GRAPH}/{FB_PAGE}/conversations",
        json={"data": [{"id": "t_1", "participants": {"data": [{"id": "77"}, {"id": FB_PAGE}]}}]},
    )
    mocked.get(
        f"{GRAPH}/t_1/messages",
        json={
            "data": [
                {"id": "m_1", "created_time": "2026-11-01T11:00:00+0000", "from": {"id": "77"}}
            ]
        },
    )
    later = fb.fetch_since(first.next_cursor)
    assert [(i.external_id, i.conversation_id) for i in later.items] == [("m_1", "77")]
