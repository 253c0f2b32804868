"""An LLM outage does not stall the pipeline: a per-email time budget and a circuit breaker.

The LLM is the local OpenAI-compatible server from tests/llm_server.py, failing on demand.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date

import pytest
from pydantic import SecretStr

from tests.llm_server import Behaviour, LLMServer, answer, llm_server
from tests.test_classifiers_local import fixed_local
from tidings.classifiers.breaker import CircuitBreaker
from tidings.classifiers.cascade import CascadeClassifier
from tidings.classifiers.llm import LLMClassifier
from tidings.classifiers.types import ClassifyContext, EmailInput
from tidings.config.settings import LLMSettings

CTX = ClassifyContext()


def email(n: int) -> EmailInput:
    # Vague on purpose: the local model is unsure, so the cascade asks the LLM.
    return EmailInput(
        subject=f"Re: order {n}",
        text="The parcel came but maybe change the delivery, or cancel, not sure, also where is "
        "the rest?",
        sender=f"someone{n}@example.com",
        sender_kind="customer",
        language="en",
        sent_on=date(2026, 11, 20),
    )


@pytest.fixture
def server() -> Iterator[LLMServer]:
    with llm_server() as state:
        yield state


def make(server: LLMServer, **settings: float) -> LLMClassifier:
    config = LLMSettings(
        base_url=server.url,
        api_key=SecretStr("sk-test"),
        model="test-model",
        **{"timeout_seconds": 5.0, **settings},
    )
    return LLMClassifier(config, attempts=3, backoff_seconds=0.01)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class TestBreaker:
    def test_opens_after_failures_in_a_row_and_refuses(self) -> None:
        breaker = CircuitBreaker(failures=3, cool_down=30, clock=FakeClock())
        breaker.failed()
        breaker.failed()
        assert breaker.allow() and not breaker.is_open
        breaker.failed()
        assert breaker.is_open and not breaker.allow()

    def test_a_success_resets_the_count(self) -> None:
        breaker = CircuitBreaker(failures=2, cool_down=30, clock=FakeClock())
        breaker.failed()
        breaker.succeeded()
        breaker.failed()
        assert breaker.allow()

    def test_after_cool_down_one_trial_call_decides(self) -> None:
        clock = FakeClock()
        breaker = CircuitBreaker(failures=1, cool_down=30, clock=clock)
        breaker.failed()
        clock.now = 30
        assert breaker.allow()  # the trial
        assert not breaker.allow()  # nobody else while it runs
        breaker.failed()  # the trial failed: open for another cool-down
        assert not breaker.allow()
        clock.now = 60
        assert breaker.allow()
        breaker.succeeded()
        assert breaker.allow() and breaker.allow()

    def test_a_trial_that_never_reports_expires(self) -> None:
        clock = FakeClock()
        breaker = CircuitBreaker(failures=1, cool_down=10, clock=clock)
        breaker.failed()
        clock.now = 10
        assert breaker.allow()
        clock.now = 15
        assert not breaker.allow()
        clock.now = 20
        assert breaker.allow()


class TestOutage:
    def test_twenty_unsure_emails_during_an_outage_finish_fast_and_go_to_review(
        self, server: LLMServer
    ) -> None:
        """Three emails spend their retries; the breaker then refuses the other seventeen at once.
        Each falls back to the local model's label with a review flag and the reason."""
        server.default = Behaviour("status", status=500)
        unsure = fixed_local("cancellation_request", 0.5)  # below its threshold: asks the LLM
        cascade = CascadeClassifier(
            unsure, make(server, breaker_failures=3, breaker_cool_down_seconds=60)
        )
        started = time.perf_counter()
        results = [cascade.classify(email(n), CTX) for n in range(20)]
        elapsed = time.perf_counter() - started
        assert all(r.needs_review and r.label == "cancellation_request" for r in results)
        assert all(r.classifier.startswith("local") for r in results)
        assert len(server.requests) == 9  # 3 emails x 3 attempts, then nothing
        assert sum("circuit breaker open" in " ".join(r.errors) for r in results) == 17
        assert elapsed < 5, f"outage slowed 20 emails to {elapsed:.1f}s"

    def test_the_breaker_heals_after_the_cool_down(self, server: LLMServer) -> None:
        llm = make(server, breaker_failures=1, breaker_cool_down_seconds=0.3)
        server.then(*[Behaviour("status", status=503)] * 3)
        assert "unreachable" in llm.classify(email(0), CTX).errors[0]
        assert "circuit breaker open" in llm.classify(email(1), CTX).errors[0]
        time.sleep(0.35)
        server.then(answer("wismo"))
        assert llm.classify(email(2), CTX).label == "wismo"
        assert not llm.breaker.is_open

    def test_a_refused_trial_still_closes_the_breaker(self, server: LLMServer) -> None:
        """A 4xx answer is no outage: the server is up, so the trial closes the breaker."""
        llm = make(server, breaker_failures=1, breaker_cool_down_seconds=0.2)
        server.then(*[Behaviour("status", status=500)] * 3)
        llm.classify(email(0), CTX)
        time.sleep(0.25)
        server.then(Behaviour("status", status=401))
        assert "LLM error" in llm.classify(email(1), CTX).errors[0]
        assert not llm.breaker.is_open


class TestTimeBudget:
    def test_one_email_never_waits_longer_than_its_budget(self, server: LLMServer) -> None:
        """A server slower than the budget: each attempt's timeout is what the budget has left,
        so the email gives up near the budget, not after attempts x timeout."""
        server.default = Behaviour("sleep", seconds=3.0)
        llm = make(server, timeout_seconds=2.0, max_seconds_per_email=1.0)
        started = time.perf_counter()
        result = llm.classify(email(0), CTX)
        elapsed = time.perf_counter() - started
        assert result.needs_review and result.abstained
        assert elapsed < 1.6, f"took {elapsed:.2f}s against a 1.0s budget"
