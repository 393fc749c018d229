"""The coordinator's weekly digest: at-risk pairs first, with the numbers that matter."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from agent.config.loading import load_config
from agent.pairs.program import PairState, Series, Stage
from agent.reports.digest import digest_context
from tests.conftest import THREE_PAIRS

BERLIN = ZoneInfo("Europe/Berlin")


def test_digest_counts_and_orders_pairs(write_config) -> None:
    cfg = load_config(write_config(THREE_PAIRS))
    now = datetime(2027, 3, 22, 8, tzinfo=BERLIN)
    series = Series(
        uid="u",
        tz="Europe/Berlin",
        first_start=datetime(2027, 3, 2, 14, tzinfo=BERLIN),
        duration_minutes=45,
        interval_weeks=1,
        until=datetime(2027, 5, 31, 9, tzinfo=BERLIN),
    )
    states = {
        "ana-ben": PairState(
            pair_id="ana-ben",
            stage=Stage.ACTIVE,
            series=series,
            heard={"mentee": now - timedelta(days=2)},
        ),
        "chen-dina": PairState(
            pair_id="chen-dina",
            stage=Stage.AGREEMENT_PENDING,
            agreement_sent={"mentor": now - timedelta(days=10)},
        ),
        "eli-fay": PairState(pair_id="eli-fay", stage=Stage.ACTIVE, series=series),
    }
    recent = (now - timedelta(days=1)).isoformat()
    log = [
        {"pair": "ana-ben", "kind": "rating", "text": "2/5", "at": recent},
        {
            "pair": "ana-ben",
            "kind": "meeting_reply",
            "text": "REPLY declined for 2027-03-16",
            "at": recent,
        },
    ]
    inbound = [
        {
            "outcome": "needs_human",
            "pair": "ana-ben",
            "from": "ben@example.net",
            "text": "Can we move Tuesday?",
            "reason": "asks to reschedule a meeting",
            "at": recent,
        },
        {"outcome": "quarantined", "at": recent},
        {"outcome": "quarantined", "at": (now - timedelta(days=30)).isoformat()},  # older week
    ]
    digest = digest_context(cfg, states, log, inbound, set(), now)
    assert digest["period"] == "15–21 March 2027"
    assert digest["meetings_planned"] == 2  # 16 March for both series
    assert digest["meetings_held"] == 1 and digest["declined"] == 1
    assert digest["agreements_pending"] == ["chen-dina"]
    assert digest["quiet"] == ["eli-fay"]  # 19 days 18 h since its first meeting, nobody wrote
    assert digest["quarantined"] == 1
    assert [h["text"] for h in digest["needs_human"]] == ["Can we move Tuesday?"]
    rows = {r["id"]: r for r in digest["pairs"]}
    assert [r["id"] for r in digest["pairs"]] == ["ana-ben", "chen-dina", "eli-fay"]
    assert all(r["at_risk"] for r in digest["pairs"])
    assert rows["ana-ben"]["reasons"] == ["last rating 2/5"]
    assert rows["chen-dina"]["reasons"] == ["no agreement after 10 days"]
    assert rows["eli-fay"]["reasons"] == ["quiet for 19 days"]
