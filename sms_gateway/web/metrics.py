"""/metrics for Prometheus and /healthz for load balancers and process supervisors."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, abort, current_app, jsonify
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from sms_gateway.web import links_and_nodes
from sms_gateway.web.auth import current_operator, public
from sms_gateway.web.collector import LedgerCollector
from sms_gateway.web.context import now, reading, services

bp = Blueprint("metrics", __name__)
_REGISTRY = "permit_gateway_metrics"


@bp.route("/metrics")
@public
def metrics() -> Response:
    if not services().config.web.metrics_public and current_operator() is None:
        abort(401)
    body = generate_latest(current_app.extensions[_REGISTRY])
    return Response(body, content_type=CONTENT_TYPE_LATEST)


@bp.route("/healthz")
@public
def healthz() -> tuple[Response, int]:
    try:
        with reading() as conn:
            conn.execute(text("SELECT 1"))
            links = links_and_nodes.links(conn, now())
    except SQLAlchemyError:
        return jsonify(database="unreachable", links=[]), 503
    return jsonify(database="ok", links=[
        {"channel": link.channel, "node": link.node, "kind": link.kind, "up": link.healthy,
         "updated_at": link.updated_at.isoformat()} for link in links]), 200


def init(app: Flask) -> None:
    """A registry per app (not the process-global one), so two apps never share collectors."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(LedgerCollector(services(app)))
    app.extensions[_REGISTRY] = registry
    app.register_blueprint(bp)

