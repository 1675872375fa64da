"""`AWS::CloudWatch::Dashboard` resources from dashboard bodies."""

from __future__ import annotations

import json
from typing import Any

from troposphere import Sub, cloudwatch


def render_body(body: dict[str, Any]) -> str:
    """Deterministic JSON: the same configuration always gives the same dashboard."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"))


def dashboard(logical_id: str, name: str, body: dict[str, Any]) -> cloudwatch.Dashboard:
    # Fn::Sub fills in the region and the account of alarm ARNs; the body has no other `${`.
    return cloudwatch.Dashboard(logical_id, DashboardName=name, DashboardBody=Sub(render_body(body)))
