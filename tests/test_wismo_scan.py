"""The scan on a real database: each delay rule, one episode and one message per problem, follow-
ups, closing notices, the outreach policy, and the SQL rules agreeing with the Python ones."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from tests.factories import brand_rows
from tests.wismo_support import NOON_IST, episodes, parcel, queued, scanner
from tidings.config import BrandsFile
from tidings.config.settings import WismoSettings
from tidings.resolvers.order_store import BuiltinOrderStore
from tidings.store.db import SessionFactory, transaction
from tidings.store.enums import CaseState, OrderStatus, Problem, ShipmentStatus, Trigger
from tidings.store.models import Case, Order, Shipment
from tidings.wismo.detect import Hours, clock_for, problem_of
from tidings.wismo.events import Checkpoint, TrackingUpdate, ingest
from tidings.wismo.status import answer, notice_for

S = ShipmentStatus
TODAY = NOON_IST.date()


def report(
    sessions: SessionFactory, tracking: str, at: datetime, status: S, **fields: object
) -> None:
    """Apply a tracking update the way the webhooks do."""
    with transaction(sessions) as session:
        ingest(
            session=session,
            update=TrackingUpdate(
                source="aftership",
                event_id=f"{tracking}-{at.isoformat()}",
                tracking_number=tracking,
                occurred_at=at,
                status=status,
                code="test",
                checkpoints=[Checkpoint(occurred_at=at, status=status, code=status.value)],
                **fields,  # type: ignore[arg-type]
            ),
        )


class TestRules:
    def test_each_rule_opens_one_episode_and_one_message(
        self, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """Promise passed, ETA beyond it, a reported delay, no scan for days, each exception
        status and a backorder: one episode each, told once; on-time and delivered parcels
        nothing."""
        with transaction(sessions) as session:
            kapas = brand_rows(session, brands)["kapas"]
            cases = {
                "late": parcel(session, kapas, promised=TODAY - timedelta(days=2)),
                "eta": parcel(session, kapas, eta=TODAY + timedelta(days=6)),
                "reported": parcel(session, kapas),
                "stalled": parcel(session, kapas, last_scan=NOON_IST - timedelta(days=8)),
                "failed": parcel(session, kapas, status=S.FAILED_ATTEMPT),
                "customs": parcel(session, kapas, status=S.HELD_CUSTOMS),
                "exception": parcel(session, kapas, status=S.EXCEPTION),
                "backorder": parcel(session, kapas, backordered=True),
                "on time": parcel(session, kapas),
                "delivered late": parcel(
                    session, kapas, status=S.DELIVERED, promised=TODAY - timedelta(days=2)
                ),
            }
            ids = {name: (s.id, s.order_id) for name, s in cases.items()}
        report(sessions, cases["reported"].tracking_number, NOON_IST, S.IN_TRANSIT, delay=True)
        first = scanner(sessions, brands).scan()
        again = scanner(sessions, brands, NOON_IST + timedelta(minutes=5)).scan()
        found = {(e.shipment_id or e.order_id, e.problem, e.trigger) for e in episodes(sessions)}
        assert found == {
            (ids["late"][0], Problem.DELAY, Trigger.PROMISE_PASSED),
            (ids["eta"][0], Problem.DELAY, Trigger.ETA_BEYOND_PROMISE),
            (ids["reported"][0], Problem.DELAY, Trigger.CARRIER_REPORTED),
            (ids["stalled"][0], Problem.DELAY, Trigger.NO_SCAN),
            (ids["failed"][0], Problem.FAILED_ATTEMPT, Trigger.FAILED_ATTEMPT),
            (ids["customs"][0], Problem.CUSTOMS_HOLD, Trigger.CUSTOMS_HOLD),
            (ids["exception"][0], Problem.EXCEPTION, Trigger.EXCEPTION),
            (ids["backorder"][1], Problem.BACKORDER, Trigger.BACKORDER),
        }
        assert (first.episodes_opened, first.enqueued) == (8, 8)
        assert (again.episodes_opened, again.enqueued) == (0, 0)
        rows = queued(sessions)
        assert sorted(r.event for r in rows) == sorted(
            ["delayed"] * 4 + ["failed_attempt", "delayed", "delayed", "backorder_update"]
        )
        assert all(r.proactive and r.wismo_episode_id and r.case_id is None for r in rows)

    def test_the_promise_passes_in_the_customers_time_zone(
        self, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """At 13:00 UTC on the 2nd, Kiritimati (UTC+14) is on the 3rd and Los Angeles still on
        the 2nd: a parcel promised for the 2nd is late for the first customer only."""
        now = datetime(2026, 12, 2, 13, 0, tzinfo=UTC)
        promised = date(2026, 12, 2)
        with transaction(sessions) as session:
            kapas = brand_rows(session, brands)["kapas"]
            ahead = parcel(
                session, kapas, now=now, promised=promised, time_zone="Pacific/Kiritimati"
            )
            behind = parcel(
                session, kapas, now=now, promised=promised, time_zone="America/Los_Angeles"
            )
            ahead_id, behind_id = ahead.id, behind.id
        scanner(sessions, brands, now).scan()
        assert [e.shipment_id for e in episodes(sessions)] == [ahead_id]
        # At midnight UTC it is the 3rd in UTC but still the 2nd in Los Angeles...
        scanner(sessions, brands, now + timedelta(hours=11)).scan()
        assert [e.shipment_id for e in episodes(sessions)] == [ahead_id]
        # ...which reaches the 3rd at 08:00 UTC.
        scanner(sessions, brands, now + timedelta(hours=19, minutes=30)).scan()
        assert sorted(e.shipment_id for e in episodes(sessions)) == sorted([ahead_id, behind_id])

    def test_no_scan_counts_each_carriers_working_hours(
        self, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """JNE works 08:00-17:00 Monday to Friday in Jakarta and a parcel is stalled after 8 of
        those hours without a scan: a scan on Friday at 16:00 is not stale on Monday at 10:00
        (3 working hours), and is at 16:00 (9)."""
        jakarta = ZoneInfo("Asia/Jakarta")
        last = datetime(2026, 12, 4, 16, 0, tzinfo=jakarta)  # a Friday
        rules = {
            "carriers": {
                "jne": {
                    "stale_after_hours": 8,
                    "days": [0, 1, 2, 3, 4],
                    "start": "08:00",
                    "end": "17:00",
                    "time_zone": "Asia/Jakarta",
                }
            }
        }
        with transaction(sessions) as session:
            seri = brand_rows(session, brands)["seri"]
            jne = parcel(session, seri, now=last, carrier="jne", last_scan=last).id
            other = parcel(session, seri, now=last, carrier="jnt_my", last_scan=last).id
        monday = datetime(2026, 12, 7, 10, 0, tzinfo=jakarta)
        scanner(sessions, brands, monday, **rules).scan()
        assert episodes(sessions) == []
        scanner(sessions, brands, monday.replace(hour=16), **rules).scan()
        found = episodes(sessions)
        assert [(e.shipment_id, e.trigger) for e in found] == [(jne, Trigger.NO_SCAN)]
        assert other not in {e.shipment_id for e in found}  # 48 default hours not yet gone

    def test_working_hours_are_counted_across_a_daylight_saving_change(self) -> None:
        """London changes to summer time on Sunday 29 March 2026: 10 working hours (09:00-
        18:00, Monday to Friday) before Monday 10:00 BST are 1 on Monday and 9 on Friday, so
        the cutoff is Friday 09:00 GMT (09:00 UTC), not an hour off."""
        london = ZoneInfo("Europe/London")
        hours = Hours(
            10,
            (0, 1, 2, 3, 4),
            datetime(2026, 1, 1, 9).time(),
            datetime(2026, 1, 1, 18).time(),
            london,
        )
        now = datetime(2026, 3, 30, 10, 0, tzinfo=london)
        assert hours.cutoff(now) == datetime(2026, 3, 27, 9, 0, tzinfo=UTC)
        autumn = datetime(2026, 10, 26, 10, 0, tzinfo=london)  # back to GMT on the 25th
        assert hours.cutoff(autumn) == datetime(2026, 10, 23, 8, 0, tzinfo=UTC)  # 09:00 BST

    def test_the_sql_rules_agree_with_the_python_rules(
        self, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """Every combination of status, promise, ETA, last scan and time zone: the scan's
        episodes are exactly what ``detect.problem_of`` says of each parcel."""
        now = datetime(2026, 12, 2, 20, 30, tzinfo=UTC)  # the 3rd in India, the 2nd in London
        statuses = [
            S.LABEL_CREATED,
            S.IN_TRANSIT,
            S.OUT_FOR_DELIVERY,
            S.FAILED_ATTEMPT,
            S.HELD_CUSTOMS,
            S.DELIVERED,
        ]
        made = []
        with transaction(sessions) as session:
            kapas = brand_rows(session, brands)["kapas"]
            for status in statuses:
                for promise_days in (-3, -1, 0, 2):
                    for eta_days in (None, 1, 5):
                        for stale in (False, True):
                            for zone in ("Asia/Kolkata", "Europe/London"):
                                made.append(
                                    parcel(
                                        session,
                                        kapas,
                                        now=now,
                                        status=status,
                                        promised=date(2026, 12, 2) + timedelta(days=promise_days),
                                        eta=None
                                        if eta_days is None
                                        else date(2026, 12, 2) + timedelta(days=eta_days),
                                        last_scan=now - timedelta(days=9 if stale else 0, hours=1),
                                        time_zone=zone,
                                    ).id
                                )
        scanner(sessions, brands, now).scan()
        found = {e.shipment_id: (e.problem, e.trigger) for e in episodes(sessions)}
        store = BuiltinOrderStore(sessions)
        clock = clock_for(WismoSettings(), now)
        expected = {}
        with sessions() as session:
            rows = session.execute(
                select(Shipment.id, Order.number).join(Order).where(Shipment.id.in_(made))
            ).all()
        for shipment_id, number in rows:
            order = store.get_order(number)
            assert order is not None
            [view] = [s.model_copy(update={"problem": None}) for s in store.list_shipments(number)]
            verdict = problem_of(order, view, clock)
            if verdict is not None:
                expected[shipment_id] = verdict
        assert found == expected
        assert len(found) > 50  # the grid reaches every rule


class TestEpisodes:
    def test_follow_ups_on_day_two_and_day_five_then_nothing(
        self, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """Kapas follows up 2 and 5 days after a problem opened, once each, while it lasts."""
        with transaction(sessions) as session:
            parcel(session, brand_rows(session, brands)["kapas"], status=S.HELD_CUSTOMS)
        told = []
        for day in (0, 1, 2, 2.5, 4, 5, 6, 9):
            result = scanner(sessions, brands, NOON_IST + timedelta(days=day)).scan()
            told.append(result.enqueued)
        assert told == [1, 0, 1, 0, 0, 1, 0, 0]
        keys = [n.idempotency_key.rsplit("/", 1)[1] for n in queued(sessions)]
        episode = episodes(sessions)[0].id
        assert keys == [f"wismo-{episode}", f"wismo-{episode}-f1", f"wismo-{episode}-f2"]

    def test_the_end_of_a_problem_closes_it_and_is_told(
        self, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """An ETA back within the promise: back on track (told); a delivery: delivered (told,
        kapas tells both ends); a return: closed, not told."""
        with transaction(sessions) as session:
            kapas = brand_rows(session, brands)["kapas"]
            slipped = parcel(session, kapas, eta=TODAY + timedelta(days=6)).tracking_number
            late = parcel(session, kapas, promised=TODAY - timedelta(days=1)).tracking_number
            returned = parcel(session, kapas, status=S.EXCEPTION).tracking_number
        scanner(sessions, brands).scan()
        later = NOON_IST + timedelta(hours=6)
        report(sessions, slipped, later, S.IN_TRANSIT, eta=TODAY + timedelta(days=2))
        report(sessions, late, later, S.DELIVERED)
        report(sessions, returned, later, S.RETURNED)
        result = scanner(sessions, brands, later + timedelta(minutes=1)).scan()
        assert (result.closed, result.enqueued) == (3, 2)
        reasons = sorted(e.close_reason or "" for e in episodes(sessions))
        assert reasons == ["back_on_track", "delivered", "returned"]
        assert sorted(n.event for n in queued(sessions))[:2] == ["back_on_track", "delayed"]
        assert "delivered" in {n.event for n in queued(sessions)}

    def test_a_brand_tells_only_the_ends_it_chose(
        self, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """Griha tells a problem is over only when back on track, not on delivery."""
        with transaction(sessions) as session:
            griha = brand_rows(session, brands)["griha"]
            late = parcel(session, griha, promised=TODAY - timedelta(days=1)).tracking_number
        scanner(sessions, brands).scan()
        report(sessions, late, NOON_IST + timedelta(hours=1), S.DELIVERED)
        result = scanner(sessions, brands, NOON_IST + timedelta(hours=2)).scan()
        assert (result.closed, result.enqueued) == (1, 0)
        assert [n.event for n in queued(sessions)] == ["delayed"]

    def test_a_new_problem_after_the_last_one_ended_is_told_again(
        self, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """A failed attempt, then the parcel moves again (back on track), then fails again:
        two episodes, each told."""
        with transaction(sessions) as session:
            kapas = brand_rows(session, brands)["kapas"]
            tracking = parcel(session, kapas, status=S.FAILED_ATTEMPT).tracking_number
        scanner(sessions, brands).scan()
        report(sessions, tracking, NOON_IST + timedelta(hours=20), S.OUT_FOR_DELIVERY)
        scanner(sessions, brands, NOON_IST + timedelta(hours=21)).scan()
        report(sessions, tracking, NOON_IST + timedelta(hours=30), S.FAILED_ATTEMPT)
        scanner(sessions, brands, NOON_IST + timedelta(hours=31)).scan()
        assert [(e.problem, e.close_reason) for e in episodes(sessions)] == [
            (Problem.FAILED_ATTEMPT, "back_on_track"),
            (Problem.FAILED_ATTEMPT, None),
        ]
        assert [n.event for n in queued(sessions)] == [
            "failed_attempt",
            "back_on_track",
            "failed_attempt",
        ]


class TestOutreachPolicy:
    def test_no_outreach_while_the_customer_has_an_open_case(
        self, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """The customer wrote about the order and a person has the case: the episode opens,
        nothing is sent; once the case is closed, the day-2 follow-up goes out."""
        with transaction(sessions) as session:
            kapas = brand_rows(session, brands)["kapas"]
            shipment = parcel(session, kapas, status=S.HELD_CUSTOMS)
            case = Case(
                brand_id=kapas.id,
                order_id=shipment.order_id,
                category="wismo",
                confidence=0.9,
                sender_verified=True,
                state=CaseState.ESCALATED,
            )
            session.add(case)
            session.flush()
            case_id = case.id
        first = scanner(sessions, brands).scan()
        assert (first.episodes_opened, first.enqueued, first.suppressed) == (1, 0, 1)
        assert episodes(sessions)[0].suppressed == "the customer has an open case about this order"
        with transaction(sessions) as session:
            session.get_one(Case, case_id).state = CaseState.RESOLVED
        later = scanner(sessions, brands, NOON_IST + timedelta(days=2)).scan()
        assert later.enqueued == 1
        assert queued(sessions)[0].idempotency_key.endswith("-f1")
        assert episodes(sessions)[0].suppressed is None

    def test_a_carriers_case_about_the_order_is_not_the_customers(
        self, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """A case opened by a carrier's email (the sender is not the customer) holds nothing."""
        with transaction(sessions) as session:
            kapas = brand_rows(session, brands)["kapas"]
            shipment = parcel(session, kapas, status=S.FAILED_ATTEMPT)
            session.add(
                Case(
                    brand_id=kapas.id,
                    order_id=shipment.order_id,
                    category="carrier_delay",
                    confidence=0.9,
                    state=CaseState.ESCALATED,
                )
            )
        assert scanner(sessions, brands).scan().enqueued == 1

    def test_the_brand_decides_which_problems_are_told(
        self, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """Seri does not tell customers about exceptions (a person calls instead)."""
        with transaction(sessions) as session:
            seri = brand_rows(session, brands)["seri"]
            parcel(session, seri, status=S.EXCEPTION)
            parcel(session, seri, status=S.FAILED_ATTEMPT)
        result = scanner(sessions, brands).scan()
        assert (result.episodes_opened, result.enqueued) == (2, 1)
        assert result.suppressed_by == {"seri does not notify exception": 1}

    def test_the_profile_language_else_the_last_emails_else_the_brands(
        self, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """Kapas speaks en and hi: a customer set to hi hears hi; one set to Tamil who wrote in
        Hindi hears hi; one set to Tamil who never wrote hears the brand's default (en)."""
        with transaction(sessions) as session:
            kapas = brand_rows(session, brands)["kapas"]
            hindi = parcel(session, kapas, status=S.HELD_CUSTOMS, language="hi")
            wrote = parcel(session, kapas, status=S.HELD_CUSTOMS, language="ta")
            silent = parcel(session, kapas, status=S.HELD_CUSTOMS, language="ta")
            session.add(
                Case(
                    brand_id=kapas.id,
                    order_id=wrote.order_id,
                    category="wismo",
                    confidence=0.9,
                    sender_verified=True,
                    language="hi",
                    state=CaseState.AUTO_RESOLVED,
                )
            )
            orders = {hindi.order_id: "hi", wrote.order_id: "hi", silent.order_id: "en"}
        scanner(sessions, brands).scan()
        assert {n.order_id: n.language for n in queued(sessions)} == orders

    def test_the_first_channel_follows_the_brands_outreach_order(
        self, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """Kapas tries WhatsApp first (the customer has a phone); Griha, with no WhatsApp
        sender, email first; the dispatcher falls back from there."""
        with transaction(sessions) as session:
            rows = brand_rows(session, brands)
            parcel(session, rows["kapas"], status=S.HELD_CUSTOMS, channels=("email",))
            parcel(session, rows["griha"], status=S.HELD_CUSTOMS, channels=("sms", "email"))
        scanner(sessions, brands).scan()
        told = [(n.channel.value, n.recipient.split(":")[0][:5]) for n in queued(sessions)]
        assert told == [("whatsapp", "whats"), ("email", "wismo")]


class TestOneAnswer:
    def test_an_inbound_question_gets_what_the_notice_told(
        self, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """The WISMO resolver's answer (the order API's views, status.answer, notice_for) for
        each told order has the notice's event and variables: status, ETA, wording."""
        with transaction(sessions) as session:
            kapas = brand_rows(session, brands)["kapas"]
            for shipment in (
                parcel(
                    session,
                    kapas,
                    promised=TODAY - timedelta(days=2),
                    eta=TODAY + timedelta(days=1),
                ),
                parcel(session, kapas, eta=TODAY + timedelta(days=7)),
                parcel(session, kapas, last_scan=NOON_IST - timedelta(days=9)),
                parcel(session, kapas, status=S.FAILED_ATTEMPT),
            ):
                assert shipment.id
        scanner(sessions, brands).scan()
        store = BuiltinOrderStore(sessions)
        clock = clock_for(WismoSettings(), NOON_IST)
        brand = brands.get("kapas")
        told = queued(sessions)
        assert len(told) == 4
        with sessions() as session:
            numbers = {i: n for i, n in session.execute(select(Order.id, Order.number))}
        for notice in told:
            order = store.get_order(numbers[notice.order_id])
            assert order is not None
            status = answer(order, store.list_shipments(order.number), clock)
            inbound = notice_for(
                status,
                order,
                brand=brand,
                clock=clock,
                episode="case-1",
                help_url=f"mailto:{brand.senders.email.address}",
            )
            assert inbound.event == notice.event
            assert inbound.variables == notice.variables


@pytest.mark.parametrize("statuses", [(OrderStatus.CANCELLED,), (OrderStatus.DELIVERED,)])
def test_parcels_of_closed_orders_are_not_scanned(
    sessions: SessionFactory, brands: BrandsFile, statuses: tuple[OrderStatus]
) -> None:
    """A late parcel of a cancelled (or delivered) order is nobody's problem to tell."""
    with transaction(sessions) as session:
        kapas = brand_rows(session, brands)["kapas"]
        parcel(session, kapas, promised=TODAY - timedelta(days=3), order_status=statuses[0])
    assert scanner(sessions, brands).scan().episodes_opened == 0
