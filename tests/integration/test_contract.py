"""The operator and API contract documents against what lindung does (issue 17,
item 7): docs/openapi.yaml, docs/operations.md ("Metrics"), deploy/alerts.yml
and the Grafana dashboard deploy/grafana/dashboards/lindung.json.

Static checks (no stack, well under a second):

- docs/openapi.yaml parses with a real YAML parser and no description is cut
  (an unquoted `a: b` or `a, b` in a flow mapping turns the rest of a
  description into a key of its own);
- every metric named by the dashboard and the alert rules is one documented
  as exported in docs/operations.md, and every metric name in the C sources
  is documented there (and not as "planned");
- the dashboard's dropped-messages and 5xx-share queries fall back to 0
  instead of "No data";
- the `route` label of lindung_http_requests_total lists every API path.

One live check (PostgreSQL and the three daemons, no programme): billing
exports lindung_billing_runs_total at 0 for both results from its start, so
LindungBillingRunFailed can fire on the first failure; every metric family
the daemons export is documented; every route label intake exports after a
request to each path (right and wrong method) is documented.

PyYAML (Debian python3-yaml, in scripts/deps) parses the YAML files; the
tests needing it are skipped, saying so, where it is not installed.
"""

from __future__ import annotations

import json
import re
import unittest
from typing import Any, Iterator

import harness

try:
    import yaml
except ImportError:  # the tests needing it skip
    yaml = None

SOURCE = harness.SOURCE_DIR
OPENAPI = SOURCE / "docs/openapi.yaml"
OPERATIONS = SOURCE / "docs/operations.md"
ALERTS = SOURCE / "deploy/alerts.yml"
DASHBOARD = SOURCE / "deploy/grafana/dashboards/lindung.json"
NO_YAML = "PyYAML is not installed for this python3 (Debian: python3-yaml, scripts/deps)"

# The keys an OpenAPI 3.1 object that has a `description` may hold (schema,
# operation, parameter, response, header, tag, info, server, security scheme).
OPENAPI_KEYS = {
    "$ref", "type", "format", "enum", "const", "default", "examples", "example",
    "pattern", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
    "minLength", "maxLength", "minItems", "maxItems", "uniqueItems", "items",
    "properties", "additionalProperties", "required", "oneOf", "anyOf", "allOf",
    "not", "nullable", "readOnly", "writeOnly", "deprecated", "title",
    "description", "summary", "operationId", "tags", "parameters", "requestBody",
    "responses", "security", "callbacks", "servers", "externalDocs", "name", "in",
    "schema", "style", "explode", "content", "headers", "links", "version",
    "license", "contact", "termsOfService", "url", "scheme", "bearerFormat",
    "flows", "openIdConnectUrl", "variables",
}

# The metric names a PromQL expression of ours can use.
METRIC_NAME = re.compile(r"\b(?:lindung|process)_[a-z0-9_]+\b")


# ---------------------------------------------------------------- documents

def walk(node: Any, path: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    """Every (path, node) of a parsed YAML/JSON document, depth first."""
    yield path, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from walk(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, path + (i,))


def metrics_section() -> str:
    """docs/operations.md from "## Metrics" to the next level-2 heading."""
    text = OPERATIONS.read_text(encoding="utf-8")
    m = re.search(r"^## Metrics\n(.*?)^## ", text, re.S | re.M)
    assert m, "docs/operations.md has no '## Metrics' section"
    return m.group(1)


def documented_metrics() -> dict[str, dict[str, str]]:
    """{name: {"type", "labels", "meaning"}} of the Metrics tables' rows."""
    rows = {}
    for line in metrics_section().splitlines():
        m = re.match(r"^\| `([a-z_:][a-z0-9_:]*)` \| (\w+) \|(.*)$", line)
        if m:
            labels, _, meaning = m.group(3).partition(" | ")
            rows[m.group(1)] = {"type": m.group(2), "labels": labels,
                                "meaning": meaning}
    return rows


def exported_names(rows: dict[str, dict[str, str]]) -> set[str]:
    """The documented names as a query may use them: histograms with their
    _bucket/_count/_sum series; rows marked planned left out."""
    names = {"up"}
    for name, row in rows.items():
        if "planned" in row["meaning"].lower():
            continue
        names.add(name)
        if row["type"] == "histogram":
            names.update(name + s for s in ("_bucket", "_count", "_sum"))
    return names


def documented_routes() -> set[str]:
    """The backticked words of lindung_http_requests_total's description."""
    row = documented_metrics()["lindung_http_requests_total"]
    return set(re.findall(r"`([^`]+)`", row["meaning"]))


def openapi_paths() -> list[str]:
    """The paths of docs/openapi.yaml (two-space-indented keys under paths:)."""
    text = OPENAPI.read_text(encoding="utf-8")
    block = re.search(r"^paths:\n(.*?)^\S", text, re.S | re.M)
    assert block, "docs/openapi.yaml has no paths"
    return re.findall(r"^  (/[^:\s]*):\s*$", block.group(1), re.M)


def dashboard_targets() -> list[tuple[dict, dict]]:
    dash = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    out = []
    stack = list(dash["panels"])
    while stack:
        panel = stack.pop(0)
        stack.extend(panel.get("panels", []))
        out.extend((panel, t) for t in panel.get("targets", []) if "expr" in t)
    return out


def source_metric_names() -> set[str]:
    """Metric names written as string literals in the daemons' C sources."""
    names = set()
    for d in ("common", "services"):
        for f in sorted((SOURCE / d).rglob("*.c")):
            names.update(re.findall(r'"((?:lindung|process)_[a-z0-9_]+)"',
                                    f.read_text(encoding="utf-8")))
    return names


# ---------------------------------------------------------------- exposition

def samples(text: str) -> dict[tuple[str, str], float]:
    """{(name, labels as written): value} of a Prometheus text exposition."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)", line)
        if m and not line.startswith("#"):
            out[(m.group(1), m.group(2) or "")] = float(m.group(3))
    return out


def families(text: str) -> set[str]:
    return set(re.findall(r"^# TYPE (\S+) ", text, re.M))


# ---------------------------------------------------------------- static

class StaticContractTest(unittest.TestCase):
    """The documents against each other and the C sources; no stack."""

    def test_openapi_descriptions_are_whole(self) -> None:
        if yaml is None:
            self.skipTest(NO_YAML)
        doc = yaml.safe_load(OPENAPI.read_text(encoding="utf-8"))
        problems = []
        for path, node in walk(doc):
            where = "/".join(map(str, path))
            if path and path[-1] == "description" and (
                    not isinstance(node, str) or not node.strip()):
                problems.append(f"{where}: not a sentence: {node!r}")
            if isinstance(node, dict) and "description" in node:
                stray = [k for k in node if not (str(k) in OPENAPI_KEYS
                                                 or str(k).startswith("x-"))]
                if stray:
                    problems.append(f"{where}: keys {stray} (a description cut by "
                                    f"an unquoted ': ' or ', '?)")
            if isinstance(node, dict):
                cut = [k for k, v in node.items() if v is None and " " in str(k)]
                if cut:
                    problems.append(f"{where}: keys without value {cut}")
        self.assertEqual(problems, [], "\n".join(problems))

    def test_dashboard_metrics_are_exported(self) -> None:
        known = exported_names(documented_metrics())
        targets = dashboard_targets()
        self.assertGreater(len(targets), 10)
        for panel, target in targets:
            used = set(METRIC_NAME.findall(target["expr"]))
            with self.subTest(panel=panel.get("title"), ref=target.get("refId")):
                self.assertTrue(used or "up{" in target["expr"], target["expr"])
                self.assertEqual(used - known, set(),
                                 "not exported according to docs/operations.md")

    def test_alert_metrics_are_exported(self) -> None:
        if yaml is None:
            self.skipTest(NO_YAML)
        known = exported_names(documented_metrics())
        rules = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
        alerts = [r for g in rules["groups"] for r in g["rules"] if "alert" in r]
        self.assertGreaterEqual(len(alerts), 5)
        for rule in alerts:
            with self.subTest(alert=rule["alert"]):
                self.assertEqual(set(METRIC_NAME.findall(rule["expr"])) - known, set(),
                                 "not exported according to docs/operations.md")

    def test_source_metrics_are_documented(self) -> None:
        rows = documented_metrics()
        in_code = source_metric_names()
        self.assertGreater(len(in_code), 20)
        self.assertEqual(in_code - set(rows), set(), "exported, not documented")
        planned = {n for n in in_code if "planned" in rows[n]["meaning"].lower()}
        self.assertEqual(planned, set(), "exported, documented as planned")
        self.assertEqual(set(rows) - in_code, set(), "documented, not in the code")

    def test_no_data_panels_fall_back_to_zero(self) -> None:
        """With nothing dropped or no 5xx the panels show 0, not "No data"."""
        chosen = [(p, t) for p, t in dashboard_targets()
                  if "lindung_bus_messages_dropped_total" in t["expr"]
                  or p.get("title", "").startswith("Error rate")]
        self.assertGreaterEqual(len(chosen), 2, "panels not found")
        for panel, target in chosen:
            with self.subTest(panel=panel["title"], ref=target.get("refId")):
                self.assertRegex(target["expr"], r"\bor on\s*\(\s*\)\s*.*vector\(0\)")

    def test_route_label_lists_every_api_path(self) -> None:
        paths = openapi_paths()
        self.assertGreaterEqual(len(paths), 15, paths)
        self.assertEqual(set(paths) - documented_routes(), set(),
                         "API paths missing from the route label in docs/operations.md")


# ---------------------------------------------------------------- live

class LiveContractTest(harness.LindungTestCase):
    """What the running daemons export, against docs/operations.md."""

    def test_exported_metrics_and_routes_are_documented(self) -> None:
        s = self.stack
        s.migrate()
        s.start_daemons("billing")
        self.check_billing_runs_at_zero(s.billing.metrics())
        s.start_daemons("intake", "verify")
        self.request_every_path()
        rows = documented_metrics()
        for name in ("intake", "verify", "billing"):
            with self.subTest(daemon=name):
                exported = families(s.daemon(name).metrics())
                self.assertIn("lindung_http_requests_total", exported)
                self.assertEqual(exported - set(rows), set(), "not documented")
        self.check_route_labels(s.intake.metrics())

    def check_billing_runs_at_zero(self, text: str) -> None:
        got = samples(text)
        for result in ("success", "failure"):
            key = ("lindung_billing_runs_total", f'result="{result}"')
            self.assertEqual(got.get(key), 0.0, f"{key} right after start:\n{text}")

    def request_every_path(self) -> None:
        values = {"{id}": "1", "{nik}": "1612011205800001", "{code}": "NO-SUCH"}
        for pattern in openapi_paths():
            path = re.sub(r"\{[a-z]+\}", lambda m: values[m.group(0)], pattern)
            for method in ("GET", "POST", "DELETE"):
                r = self.stack.api(method, path)
                self.assertNotEqual(r.status, 500, f"{method} {path}: {r.body}")
        self.stack.api("GET", "/v1/no-such-thing")

    def check_route_labels(self, text: str) -> None:
        routes = {re.search(r'route="([^"]*)"', labels).group(1)
                  for name, labels in samples(text)
                  if name == "lindung_http_requests_total"}
        self.assertEqual(routes - documented_routes(), set(), "undocumented route labels")
        self.assertEqual(set(openapi_paths()) - routes, set(),
                         "paths whose requests were not counted under their pattern")


if __name__ == "__main__":
    unittest.main(verbosity=2)
