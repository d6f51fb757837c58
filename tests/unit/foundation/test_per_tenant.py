"""A scheduled job over every tenant: one tenant's failure is counted, the others run on."""

from __future__ import annotations

import pytest

from chalicelib.jobs import per_tenant


def test_a_failing_tenant_is_counted_and_the_others_run(monkeypatch: pytest.MonkeyPatch,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(per_tenant.tenants, "tenant_ids", lambda: ["a", "b", "c", "d"])
    ran: list[str] = []

    def run(tenant: str) -> dict[str, int]:
        ran.append(tenant)
        if tenant == "b":
            raise RuntimeError("b's table is throttled")
        return {} if tenant == "d" else {"done": len(tenant)}

    assert per_tenant.each_tenant("test job", run) == {"a": {"done": 1}, "b": {"error": 1},
                                                        "c": {"done": 1}}
    assert ran == ["a", "b", "c", "d"]
    assert "test job of tenant b failed" in caplog.text
