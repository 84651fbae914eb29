"""Talking to the Dash app like the browser does, and reading what it answers."""

from __future__ import annotations

import contextlib
import json
from typing import Any


class DashClient:
    """Calls Dash's routes the way the browser does, as one user."""

    def __init__(self, client, token: str | None, prefix: str = "/ddtrack") -> None:
        self.client, self.prefix = client, prefix
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def page(self, path: str, search: str = "") -> Any:
        """The router callback's answer for a URL (what the page shows)."""
        resp = self.callback(
            "page.children",
            {"id": "page", "property": "children"},
            [
                {"id": "url", "property": "pathname", "value": f"{self.prefix}/{path}"},
                {"id": "url", "property": "search", "value": search},
            ],
        )
        assert resp.status_code == 200, resp.text
        return resp.json()["response"]["page"]["children"]

    def callback(self, output: str, outputs: Any, inputs: list[dict], state: list[dict] | None = None):
        body = {
            "output": output,
            "outputs": outputs,
            "inputs": inputs,
            "state": state or [],
            "changedPropIds": [f"{inputs[0]['id']}.{inputs[0]['property']}"],
        }
        return self.client.post(f"{self.prefix}/_dash-update-component", json=body, headers=self.headers)


def texts(tree: Any) -> list[str]:
    """Every text child in a Dash component tree (what a person reads)."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, str):
            found.append(node)
        elif isinstance(node, list):
            for n in node:
                walk(n)
        elif isinstance(node, dict):
            props = node.get("props", {})
            walk(props.get("children"))
            for key in ("label",):
                if isinstance(props.get(key), str):
                    found.append(props[key])

    walk(tree)
    return found


def find(tree: Any, predicate) -> list[dict]:
    """Components (as dicts) anywhere in a Dash tree for which ``predicate(props)`` holds."""
    found: list[dict] = []

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for n in node:
                walk(n)
        elif isinstance(node, dict) and "props" in node:
            if predicate(node):
                found.append(node)
            for value in node["props"].values():
                if isinstance(value, (list, dict)):
                    walk(value)

    walk(tree)
    return found


def outputs_spec(output: str) -> Any:
    """The ``outputs`` of a callback request, from the ``output`` string Dash declares
    (``"page.children"`` or ``"..a.b...c.d.."`` for several)."""
    parts = output[2:-2].split("...") if output.startswith("..") else [output]
    outs = []
    for part in parts:
        ident, prop = part.rsplit(".", 1)
        with contextlib.suppress(ValueError):
            ident = json.loads(ident)
        outs.append({"id": ident, "property": prop})
    return outs if output.startswith("..") else outs[0]


def error_cards(tree: Any) -> list[dict]:
    """The error cards (``dd-error``) anywhere in a Dash tree or callback answer: what a page
    shows when something failed."""
    found: list[dict] = []

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for n in node:
                walk(n)
        elif isinstance(node, dict):
            props = node.get("props")
            if isinstance(props, dict) and "dd-error" in str(props.get("className", "")).split():
                found.append(node)
            for value in node.values():
                walk(value)

    walk(tree)
    return found


def parse_id(ident: Any) -> Any:
    """A component id as Dash declares it: pattern-matching ids arrive as JSON strings."""
    return json.loads(ident) if isinstance(ident, str) and ident.startswith("{") else ident


def id_key(ident: Any) -> str:
    """A component id as Dash's renderer writes it (dict ids: sorted, compact JSON)."""
    return json.dumps(ident, sort_keys=True, separators=(",", ":")) if isinstance(ident, dict) else str(ident)


def concrete_id(ident: Any, match: dict) -> Any:
    """A pattern-matching id with its MATCH wildcards filled in from ``match``."""
    if not isinstance(ident, dict):
        return ident
    return {k: match.get(k) if v == ["MATCH"] else v for k, v in ident.items()}
