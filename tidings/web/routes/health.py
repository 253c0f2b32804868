"""Probes and metrics: ``/healthz`` (alive, database answers), ``/readyz`` (and the schema is
at the code's head: 503 until ``tidings db upgrade`` ran), ``/metrics`` for Prometheus (an
API token: Prometheus sends it as ``authorization: credentials``)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from tidings import __version__
from tidings.metrics import QUEUE_ROWS
from tidings.store.base import utcnow
from tidings.store.migrate import current_revision, head_revision
from tidings.web.deps import PUBLIC, CurrentUser, ReadSessionDep
from tidings.web.queue import queue_health
from tidings.wismo.report import metrics as wismo_metrics


def health_router() -> APIRouter:
    """Liveness, readiness, metrics."""
    router = APIRouter(tags=["health"])

    @router.get("/healthz", dependencies=[Depends(PUBLIC)])
    def healthz(session: ReadSessionDep) -> JSONResponse:
        """Liveness and database reachability, for load balancers."""
        session.execute(text("SELECT 1"))
        revision = current_revision(session.connection())
        return JSONResponse({"status": "ok", "schema": revision, "version": __version__})

    @router.get("/readyz", dependencies=[Depends(PUBLIC)])
    def readyz(session: ReadSessionDep) -> JSONResponse:
        """Ready for traffic: the database answers and its schema is the one this code needs."""
        try:
            revision = current_revision(session.connection())
        except SQLAlchemyError as exc:
            reason = f"database unreachable: {type(exc).__name__}"
            return JSONResponse({"status": "unavailable", "reason": reason}, status_code=503)
        head = head_revision()
        if revision != head:
            reason = (
                f"schema at {revision or 'nothing'}, code needs {head}: run `tidings db upgrade`"
            )
            return JSONResponse({"status": "unavailable", "reason": reason}, status_code=503)
        return JSONResponse({"status": "ready", "schema": revision, "version": __version__})

    @router.get("/metrics")
    def metrics(session: ReadSessionDep, _user: CurrentUser) -> Response:
        """Prometheus metrics, with queue depths read now."""
        health = queue_health(session)
        QUEUE_ROWS.clear()  # states that emptied since the last scrape must read 0, not linger
        for table, counts in (
            ("emails", health.emails),
            ("cases", health.cases),
            ("notifications", health.notifications),
        ):
            for state, count in counts.items():
                QUEUE_ROWS.labels(table=table, state=state).set(count)
        body = generate_latest() + wismo_metrics(session, utcnow())  # proactive WISMO's figures
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return router
