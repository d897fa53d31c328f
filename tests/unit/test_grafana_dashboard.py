"""docs/grafana-dashboard.json: valid JSON whose every query is PromQL (a real parser) and
names only the families and labels a real /metrics scrape exposes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import promql_parser
import pytest
from fioloadgen_server.jobsdb import JobDB
from fioloadgen_server.metrics import METRIC_NAMES, MetricsExporter
from prometheus_client.parser import text_string_to_metric_families
from test_store_contract import make_run

from pytest_fioloadgen.store import open_store

DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "grafana-dashboard.json"
#: What Grafana puts in place of the dashboard's variables before it sends a query.
VARIABLES = {"$metric": "iops", "$target": ".*", "${datasource}": "prometheus"}


@pytest.fixture(scope="module")
def exposed(tmp_path_factory) -> dict[str, set[str]]:
    """Each family a scrape of a small real history exposes, with its label names."""
    tmp = tmp_path_factory.mktemp("dashboard")
    store = open_store(str(tmp / "history.db"))
    jobs = JobDB(tmp / "server.db")
    try:
        for number in range(6):
            store.record(
                make_run(f"r{number}", started_at=1000.0 + number, metrics={"iops": 100.0})
            )
        exporter = MetricsExporter(store, jobs, lambda: True, metrics=("iops",))
        text = exporter.scrape().decode()
    finally:
        store.close()
        jobs.close()
    families = {}
    for family in text_string_to_metric_families(text):
        families[family.name] = {name for sample in family.samples for name in sample.labels}
    assert sorted(families) == sorted(METRIC_NAMES)
    return families


def queries(document: dict) -> list[str]:
    """Every PromQL query of the dashboard (panel targets), variables substituted."""
    found = [target["expr"] for panel in document["panels"] for target in panel["targets"]]
    substituted = []
    for query in found:
        for variable, value in VARIABLES.items():
            query = query.replace(variable, value)
        substituted.append(query)
    return substituted


def referenced(expression: promql_parser.Expr) -> tuple[list[tuple[str, str]], set[str]]:
    """((family, label of a matcher)..., labels named by on/group_left/by) of a query."""
    selectors: list[tuple[str, str]] = []
    labels: set[str] = set()

    def visit(node: object) -> bool:
        if isinstance(node, promql_parser.VectorSelector):
            matchers = node.matchers.matchers if node.matchers else []
            selectors.append((node.name, ""))
            selectors.extend((node.name, matcher.name) for matcher in matchers)
        elif isinstance(node, promql_parser.BinaryExpr) and node.modifier is not None:
            if node.modifier.matching is not None:
                labels.update(node.modifier.matching.labels)
            labels.update(node.modifier.group_labels or [])
        elif isinstance(node, promql_parser.AggregateExpr) and node.modifier is not None:
            labels.update(node.modifier.labels)
        return True

    promql_parser.walk(expression, visit)
    return selectors, labels


def test_the_dashboard_queries_only_what_the_endpoint_exposes(exposed):
    document = json.loads(DASHBOARD.read_text())
    assert document["panels"] and document["uid"]
    every_label = set().union(*exposed.values())
    used: set[str] = set()
    for query in queries(document):
        selectors, labels = referenced(promql_parser.parse(query))
        assert selectors, query
        for family, label in selectors:
            assert family in exposed, f"{family} in {query}"
            assert not label or label in exposed[family], f"{family}{{{label}}} in {query}"
            used.add(family)
        assert labels <= every_label, query
    assert {"fioloadgen_key_latest_value", "fioloadgen_key_verdict"} <= used
    for variable in document["templating"]["list"]:
        if variable["type"] != "query":
            continue
        family, label = re.fullmatch(
            r"label_values\((\w+), (\w+)\)", variable["query"]["query"]
        ).groups()
        assert label in exposed[family], variable["name"]


def test_every_panel_has_a_place_and_a_prometheus_source():
    document = json.loads(DASHBOARD.read_text())
    ids = [panel["id"] for panel in document["panels"]]
    assert len(ids) == len(set(ids))
    for panel in document["panels"]:
        assert set(panel["gridPos"]) == {"x", "y", "w", "h"}
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
