"""Talking to the Dash app like the browser does, and reading what it answers."""

from __future__ import annotations

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
