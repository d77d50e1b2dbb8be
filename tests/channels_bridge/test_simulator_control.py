"""The /_sim/ control API, loopback-only binding, the CLI banner and the traffic generator."""

from __future__ import annotations

import random
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from channels_bridge.simulator import (
    RunningSimulator,
    Simulator,
    SimulatorBindError,
    TrafficGenerator,
    default_credentials,
    generate_messages,
    start_simulator,
)
from channels_bridge.simulator.__main__ import summary
from channels_bridge.simulator.traffic import fake_value, iban_complete, luhn_complete
from channels_bridge.simulator.world import FB_PAGE_ID, X_BRAND_ID
from tests.channels_bridge.simulated import snapshot

FB = default_credentials("facebook")
X = default_credentials("x")
ROOT = Path(__file__).resolve().parents[2]


def call(
    sim: RunningSimulator, method: str, path: str, body: dict[str, object] | None = None
) -> requests.Response:
    return requests.request(method, f"{sim.base_url}{path}", json=body, timeout=5)


def test_control_state_is_a_snapshot(sim: RunningSimulator) -> None:
    state = call(sim, "GET", "/_sim/state").json()

    assert state["facebook"]["page_id"] == FB_PAGE_ID
    assert state["x"]["user_id"] == X_BRAND_ID
    assert state["writes"] == {}


def test_control_state_never_shows_token_values(sim: RunningSimulator) -> None:
    text = call(sim, "GET", "/_sim/state").text

    assert FB["page_access_token"] not in text
    assert X["access_token"] not in text


def test_control_customer_comment_then_reply_shows_in_state(sim: RunningSimulator) -> None:
    ids = call(
        sim,
        "POST",
        "/_sim/customer/facebook/comment",
        {"text": "Call me on +44 7700 900123", "customer": "tom"},
    ).json()
    requests.post(
        f"{sim.base_url}/v26.0/{ids['comment_id']}/comments",
        timeout=5,
        data={"message": "See DM", "access_token": FB["page_access_token"]},
    )

    state = call(sim, "GET", "/_sim/state").json()

    assert [r["reply_to"] for r in state["facebook"]["replies"]] == [ids["comment_id"]]
    assert state["writes"] == {"facebook POST /{id}/comments": 1}


def test_control_customer_comment_reply_to_comment(sim: RunningSimulator) -> None:
    top = call(sim, "POST", "/_sim/customer/facebook/comment", {"text": "top"}).json()

    child = call(
        sim,
        "POST",
        "/_sim/customer/facebook/comment",
        {"text": "child", "customer": "diego", "parent_id": top["comment_id"]},
    )

    assert child.status_code == 201
    assert child.json()["parent_id"] == top["comment_id"]


def test_control_customer_messages_and_dms(sim: RunningSimulator) -> None:
    message = call(sim, "POST", "/_sim/customer/facebook/message", {"text": "hi"}).json()
    mention = call(sim, "POST", "/_sim/customer/x/mention", {"text": "hi", "customer": "sanne"})
    dm = call(sim, "POST", "/_sim/customer/x/dm", {"text": "hi", "customer": "sanne"}).json()

    assert message["conversation_id"].startswith("t_")
    assert mention.status_code == 201
    assert dm["dm_conversation_id"] == f"{X_BRAND_ID}-{dm['sender_id']}"


def test_control_customer_needs_text(sim: RunningSimulator) -> None:
    response = call(sim, "POST", "/_sim/customer/x/mention", {"customer": "tom"})

    assert response.status_code == 400


def test_control_unknown_customer_is_404(sim: RunningSimulator) -> None:
    response = call(sim, "POST", "/_sim/customer/x/dm", {"text": "hi", "customer": "nobody"})

    assert response.status_code == 404


def test_control_faults_add_list_and_delete(sim: RunningSimulator) -> None:
    added = call(
        sim,
        "POST",
        "/_sim/faults",
        {"kind": "server_error", "platform": "x", "times": None, "status": 500},
    )
    failing = requests.get(
        f"{sim.base_url}/2/users/me",
        timeout=5,
        headers={"Authorization": f"Bearer {X['oauth2_user_token']}"},
    )
    listed = call(sim, "GET", "/_sim/faults").json()
    removed = call(sim, "DELETE", f"/_sim/faults/{added.json()['id']}").json()

    assert added.status_code == 201
    assert failing.status_code == 500
    assert listed["faults"][0]["kind"] == "server_error"
    assert removed == {"removed": 1}


def test_control_faults_delete_all(sim: RunningSimulator) -> None:
    call(sim, "POST", "/_sim/faults", {"kind": "slow", "delay_ms": 1})
    call(sim, "POST", "/_sim/faults", {"kind": "rate_limit"})

    assert call(sim, "DELETE", "/_sim/faults").json() == {"removed": 2}


def test_control_faults_reject_bad_kind(sim: RunningSimulator) -> None:
    assert call(sim, "POST", "/_sim/faults", {"kind": "meteor"}).status_code == 400


def test_control_faults_do_not_affect_control_calls(sim: RunningSimulator) -> None:
    call(sim, "POST", "/_sim/faults", {"kind": "server_error", "times": None})

    assert call(sim, "GET", "/_sim/state").status_code == 200


def test_control_tokens_expire_and_renew(sim: RunningSimulator) -> None:
    url = f"{sim.base_url}/v26.0/me"
    params = {"access_token": FB["page_access_token"]}

    call(sim, "POST", "/_sim/tokens/expire", {"platform": "facebook"})
    expired = requests.get(url, params=params, timeout=5)
    call(sim, "POST", "/_sim/tokens/renew", {"platform": "facebook"})
    renewed = requests.get(url, params=params, timeout=5)

    assert expired.json()["error"]["code"] == 190
    assert renewed.status_code == 200


def test_control_tokens_expire_later(sim: RunningSimulator) -> None:
    params = {"access_token": FB["page_access_token"]}

    call(sim, "POST", "/_sim/tokens/expire", {"platform": "facebook", "after_seconds": 600})
    still_valid = requests.get(f"{sim.base_url}/v26.0/me", params=params, timeout=5)
    call(sim, "POST", "/_sim/clock", {"advance_seconds": 601})
    expired = requests.get(f"{sim.base_url}/v26.0/me", params=params, timeout=5)

    assert still_valid.status_code == 200
    assert expired.json()["error"]["error_subcode"] == 463


def test_control_reset_forgets_everything(sim: RunningSimulator) -> None:
    call(sim, "POST", "/_sim/customer/x/mention", {"text": "hi"})
    call(sim, "POST", "/_sim/faults", {"kind": "rate_limit"})

    call(sim, "POST", "/_sim/reset")
    state = call(sim, "GET", "/_sim/state").json()

    assert state["faults"] == []
    assert state["x"]["tweet_count"] == 2


def test_control_clock_advances(sim: RunningSimulator) -> None:
    before = sim.sim.now()

    after = call(sim, "POST", "/_sim/clock", {"advance_seconds": 3600}).json()["now"]

    assert after >= before + 3599


def test_control_settings_toggle(sim: RunningSimulator) -> None:
    settings = call(sim, "POST", "/_sim/settings", {"x_enforce_rate_limits": True}).json()

    assert settings["x_enforce_rate_limits"] is True
    assert sim.sim.x_enforce_rate_limits is True


def test_control_credentials(sim: RunningSimulator) -> None:
    creds = call(sim, "GET", "/_sim/credentials").json()

    assert creds == {"facebook": FB, "x": X}


def test_control_traffic_inject(sim: RunningSimulator) -> None:
    result = call(sim, "POST", "/_sim/traffic", {"inject": 5}).json()

    assert len(result["events"]) == 5
    assert {e["platform"] for e in result["events"]} <= {"facebook", "x"}


def test_control_unknown_endpoint_is_404(sim: RunningSimulator) -> None:
    assert call(sim, "GET", "/_sim/nothing").status_code == 404


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.com", "::"])  # noqa: S104
def test_start_refuses_non_loopback(host: str) -> None:
    with pytest.raises(SimulatorBindError):
        start_simulator(host=host)


def test_start_binds_loopback_and_stops() -> None:
    with start_simulator(host="localhost") as running:
        assert running.host == "127.0.0.1"
        assert requests.get(f"{running.base_url}/_sim/health", timeout=5).json()["ok"] is True
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{running.base_url}/_sim/health", timeout=5)


def test_cli_refuses_non_loopback_host() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "channels_bridge.simulator", "--host", "0.0.0.0", "--port", "0"],  # noqa: S104
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert result.returncode == 2
    assert "loopback" in result.stderr


def test_cli_serves_and_prints_its_base_url() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "channels_bridge.simulator", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        base_url = banner.rsplit(" ", 1)[1].strip()
        health = requests.get(f"{base_url}/_sim/health", timeout=5).json()
    finally:
        process.terminate()
        process.wait(timeout=10)

    assert base_url.startswith("http://127.0.0.1:")
    assert health["ok"] is True
    assert process.returncode == 0


def test_concurrent_writes_get_unique_ids_and_exact_counts(sim: RunningSimulator) -> None:
    target = sim.sim.customer_x_mention("help", customer="tom")["tweet_id"]
    headers = {"Authorization": f"Bearer {X['oauth2_user_token']}"}

    def post(i: int) -> str:
        response = requests.post(
            f"{sim.base_url}/2/tweets",
            headers=headers,
            timeout=10,
            json={"text": f"reply {i}", "reply": {"in_reply_to_tweet_id": target}},
        )
        return str(response.json()["data"]["id"])

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = list(pool.map(post, range(40)))

    assert len(set(ids)) == 40
    assert sim.sim.write_count("x POST /2/tweets") == 40
    assert len(snapshot(sim)["x"]["replies"]) == 40


def test_cli_summary_labels_credentials_as_simulated() -> None:
    text = summary("http://127.0.0.1:8765", 6, 1)

    assert "http://127.0.0.1:8765/v26.0/" in text
    assert "Simulated credentials" in text
    assert f"facebook.page_id = {FB_PAGE_ID}" in text


def test_traffic_is_deterministic_per_seed() -> None:
    gen_a = TrafficGenerator(Simulator(), seed=7)
    gen_b = TrafficGenerator(Simulator(), seed=7)

    events_a = [gen_a.step() for _ in range(20)]
    events_b = [gen_b.step() for _ in range(20)]

    assert events_a == events_b
    assert len({e["kind"] for e in events_a}) > 2


def test_traffic_thread_injects_at_its_rate() -> None:
    with start_simulator(traffic_per_minute=600, seed=3) as running:
        deadline = time.monotonic() + 10
        while running.traffic.injected < 2 and time.monotonic() < deadline:
            time.sleep(0.05)

    assert running.traffic.injected >= 2


def test_generated_messages_cover_locales_and_pii() -> None:
    messages = generate_messages(300, seed=1)

    assert {m.locale for m in messages} == {"en", "de", "fr", "es", "it", "nl"}
    assert any(not m.pii for m in messages)
    assert {k for m in messages for k in m.pii} == {
        "email",
        "phone",
        "order",
        "card",
        "iban",
        "name",
    }


def _luhn_ok(number: str) -> bool:
    digits = [int(d) for d in number]
    total = sum(digits[-1::-2]) + sum(sum(divmod(2 * d, 10)) for d in digits[-2::-2])
    return total % 10 == 0


def _iban_ok(iban: str) -> bool:
    moved = iban[4:] + iban[:4]
    return int("".join(str(int(ch, 36)) for ch in moved)) % 97 == 1


def test_generated_cards_pass_luhn_and_ibans_pass_mod97() -> None:
    rng = random.Random(5)
    cards = [fake_value(rng, "card", "en").replace(" ", "") for _ in range(50)]
    ibans = [fake_value(rng, "iban", loc).replace(" ", "") for loc in ("de", "fr", "nl") * 20]

    assert all(_luhn_ok(c) for c in cards)
    assert all(_iban_ok(i) for i in ibans)
    assert luhn_complete("7992739871") == "79927398713"
    assert iban_complete("GB", "WEST12345698765432") == "GB82WEST12345698765432"


def test_generated_emails_use_reserved_domains() -> None:
    rng = random.Random(9)
    emails = [fake_value(rng, "email", "en") for _ in range(30)]

    assert all(re.search(r"@example\.(com|org|net)$", e) for e in emails)


def test_skip_ids_moves_new_ids_past_earlier_runs() -> None:
    from channels_bridge.simulator import Simulator

    first = Simulator(seed=3).customer_x_mention("hello")["tweet_id"]
    later = Simulator(seed=3)
    later.skip_ids(1000)

    second = later.customer_x_mention("hello")["tweet_id"]

    assert int(second) > int(first)
    assert int(second) - int(first) >= 1000
