"""Issue 16: what "in order" means for partner events (lending/event_order.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chalicelib.lending import event_order
from chalicelib.services.outbox import _events_in, emit, new_event_id
from chalicelib.store import outbox as store
from chalicelib.store.uow import UnitOfWork

T = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_an_event_queues_behind_its_loan_or_its_application_or_nothing():
    assert event_order.order_key({"loan_id": "loan_1", "application_id": "app_1"}) == \
        "loan:loan_1"
    assert event_order.order_key({"loan_id": None, "application_id": "app_1"}) == \
        "application:app_1"
    assert event_order.order_key({"disbursement_id": "dsb_1"}) is None


def test_positions_sort_by_emit_time_then_by_place_in_the_transaction():
    early, late = store.iso(T), store.iso(T + timedelta(microseconds=1))
    a, b = new_event_id(T), new_event_id(T)
    ordered = [event_order.position(early, 0, b), event_order.position(early, 1, a),
               event_order.position(early, 10, a), event_order.position(late, 0, a)]
    assert sorted(ordered) == ordered
    assert len({len(p) for p in ordered}) == 1  # fixed width: string order is this order


def test_events_of_one_transaction_take_their_emit_order(aws):
    uow = UnitOfWork()
    for n in range(3):
        assert _events_in(uow) == n
        emit(uow, "acme", "loan.closed", {"loan_id": "loan_1"}, now=T)
    positions = [i["Put"]["Item"]["position"]["S"] for i in uow.items
                 if i["Put"]["Item"]["sk"]["S"] == store.EVENT_SK]
    assert [p.split("#")[1] for p in positions] == ["000", "001", "002"]
    markers = [i["Put"]["Item"]["sk"]["S"] for i in uow.items
               if i["Put"]["Item"]["pk"]["S"] == store.order_pk("acme", "loan:loan_1")]
    assert markers == [store.event_marker_sk(p) for p in positions]


def test_an_endpoint_gets_what_is_emitted_from_its_registration_on():
    at = store.iso(T)
    assert event_order.registered_in_time(at, at)
    assert event_order.registered_in_time(at, store.iso(T + timedelta(seconds=1)))
    assert not event_order.registered_in_time(at, store.iso(T - timedelta(microseconds=1)))
    assert event_order.registered_in_time("", at) and event_order.registered_in_time(at, "")
