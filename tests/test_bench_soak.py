"""The anvil soak (bench/soak) runs and reports every sender."""

from bench_run import last_json


def test_soak_reports_each_senders_rounds_and_no_error():
    report = last_json("bench.soak", "--senders", "2", "--seconds", "3", "--load", "0", timeout=120)
    assert len(report["senders"]) == 2 and report["errors"] == 0
    assert all(s["rounds"] > 0 and s["txs"] == 14 * s["rounds"] for s in report["senders"])
