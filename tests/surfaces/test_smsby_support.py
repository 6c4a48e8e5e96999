"""Helpers for the sms.by surface tests: every way its public clients call a command."""

from __future__ import annotations

from typing import Any

import httpx

# How the public clients send parameters (docs/api/smsby.md, reference §2.2 and §7.1).
STYLES = ("get", "post_query", "post_form", "post_json", "post_multipart")


def call(
    client: httpx.Client, command: str, style: str = "get", **params: object
) -> httpx.Response:
    url = f"/api/v1/{command}"
    values = {k: str(v) for k, v in params.items()}
    if style == "get":  # sms-php, startsend/laravel-api, opencart
        return client.get(url, params=values)
    if style == "post_query":  # sms-python requests.post(url), sms-java curl -X POST, MakarovIgor
        return client.post(url, params=values)
    if style == "post_form":  # sms-php flashCall/Viber, opencart: http_build_query
        return client.post(url, data=values)
    if style == "post_json":  # send-sms-nodejs: the token inside a JSON body
        return client.post(url, json=params)
    if style == "post_multipart":  # token in the query, the rest as multipart fields
        token = values.pop("token", None)
        return client.post(
            url,
            params={"token": token} if token else None,
            files={k: (None, v) for k, v in values.items()},
        )
    raise AssertionError(style)


def ok(answer: httpx.Response) -> Any:
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert not (isinstance(body, dict) and "error" in body), body
    return body


def error(answer: httpx.Response, status: int) -> str:
    """The ``{"error": ...}`` body every sms.by client tests for; returns its text."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert list(body) == ["error"] and isinstance(body["error"], str) and body["error"], body
    return str(body["error"])
