"""Redaction: secrets masked by key, by value pattern and by known value; big things summarised or cut."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from pydantic import BaseModel, SecretStr

from minivess.observability.redact import MASK, MAX_STRING, Redactor, is_secret_key
from minivess.settings import Settings


@pytest.mark.parametrize(
    "key", ["api_key", "OPENAI_API_KEY", "apiKey", "token", "hf_token", "access_token", "secret", "client_secret",
            "password", "db_passwd", "Authorization", "credentials", "private_key", "cookie", "basic_auth"],
)  # fmt: skip
def test_secret_key_names(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize(
    "key", ["prompt_tokens", "completion_tokens", "max_tokens", "input_tokens", "tokenizer", "author", "key",
            "session_id", "model", "public_url"],
)  # fmt: skip
def test_ordinary_key_names_stay_visible(key: str) -> None:
    assert not is_secret_key(key)


@pytest.mark.parametrize(
    "secret",
    [
        "sk-proj-AbCdEfGhIjKlMnOpQrStUvWx",
        "sk-ant-api03-abcdefghijklmnop",
        "sk-lf-1234abcd-5678-90ef-aaaa-bbbbccccdddd",
        "pk-lf-1234abcd-5678-90ef",
        "ghp_abcdefghijklmnopqrstuvwxyz0123",
        "hf_abcdefghijklmnopqrstuvwxyzAB",
        "AKIAABCDEFGHIJKLMNOP",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    ],
)
def test_value_patterns_are_masked_inside_text(secret: str) -> None:
    text = Redactor().text(f"calling with {secret} now")
    assert secret not in text and text == f"calling with {MASK} now"


def test_headers_assignments_and_url_credentials() -> None:
    r = Redactor()
    assert r.text("Authorization: Bearer abc123def456ghi789") == f"Authorization: {MASK}"
    assert r.text('{"api_key": "hunter2-xyz", "epochs": 3}') == f'{{"api_key": "{MASK}", "epochs": 3}}'
    assert r.text("password=hunter2&user=bob") == f"password={MASK}&user=bob"
    assert r.text(r"{\"secret\": \"abc-def\"}") == rf"{{\"secret\": \"{MASK}\"}}"  # JSON inside JSON
    assert r.text("postgresql://bob:s3cret@db:5432/x") == f"postgresql://bob:{MASK}@db:5432/x"
    assert r.text(r.text('{"token": "abcdef123"}')) == f'{{"token": "{MASK}"}}'  # idempotent


def test_ordinary_text_is_left_alone() -> None:
    text = "task-experimenter-training with basic transformation, prompt_tokens: 120, bearer of news"
    assert Redactor().text(text) == text


def test_known_secret_values_from_settings_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRAINTRUST_API_KEY", "bt-plain-value-123")  # no recognisable pattern: masked as a value
    monkeypatch.setenv("MY_SERVICE_TOKEN", "zz-other-value-456")
    r = Redactor.from_settings(Settings())
    assert r.text("key bt-plain-value-123 and zz-other-value-456") == f"key {MASK} and {MASK}"


def test_structures_mask_secret_keys_and_secretstr() -> None:
    class Args(BaseModel):
        dataset: str
        password: SecretStr
        token_budget: int

    out = Redactor().value({"args": Args(dataset="d1", password=SecretStr("pw-123456"), token_budget=5), "x": (1, 2)})
    assert out == {"args": {"dataset": "d1", "password": MASK, "token_budget": 5}, "x": [1, 2]}
    assert Redactor().value({"nested": {"api_key": None, "Authorization": "Basic xyz"}}) == {
        "nested": {"api_key": None, "Authorization": MASK}
    }


def test_arrays_and_tensors_are_summarised_never_serialised() -> None:
    torch = pytest.importorskip("torch")
    r = Redactor()
    big = np.arange(1000, dtype=np.float32).reshape(10, 100)
    assert r.value(big) == {"type": "ndarray", "shape": [10, 100], "dtype": "float32", "min": 0.0, "max": 999.0,
                            "mean": pytest.approx(499.5)}  # fmt: skip
    assert r.value(np.array([1, 2, 3])) == [1, 2, 3]  # small arrays stay readable
    assert r.value(np.float32(0.5)) == 0.5
    summary = r.value(torch.ones(2, 3, dtype=torch.int64))
    assert summary == {"type": "Tensor", "shape": [2, 3], "dtype": "torch.int64", "min": 1.0, "max": 1.0, "mean": 1.0}
    assert r.value(torch.zeros(0))["shape"] == [0]
    assert json.dumps(r.value({"t": torch.randn(4, 4), "a": big}))  # JSON-safe


def test_long_strings_lists_and_blobs_are_bounded() -> None:
    r = Redactor()
    long = "x y " * MAX_STRING
    cut = r.value(long)
    assert cut.startswith("x y ") and cut.endswith(f"…[truncated {len(long) - MAX_STRING} chars]")
    assert len(r.value(list(range(1000)))) == 201
    assert r.value("data:image/png;base64," + "A" * 5000) == "<image/png data URI, 5022 chars>"
    assert r.value("QUJD" * 200) == "<base64 data, 800 chars>"


def test_other_objects() -> None:
    @dataclass
    class Point:
        x: int
        secret: str

    r = Redactor()
    assert r.value(Point(1, "s")) == {"x": 1, "secret": MASK}
    assert r.value(Path("/tmp/a")) == "/tmp/a"
    assert r.value(b"\x00\x01") == "<2 bytes>"
    assert r.value({1: {2: {3: "deep"}}}) == {"1": {"2": {"3": "deep"}}}


def test_the_working_directory_is_not_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """$PWD matches the 'pwd' (password) key pattern but holds a path that traces must keep readable."""
    monkeypatch.setenv("PWD", "/home/someone/project")
    monkeypatch.setenv("DB_PASSWORD", "hunter2-very-secret")
    redactor = Redactor.from_settings(None)
    assert redactor.known("/home/someone/project/.minivess") == "/home/someone/project/.minivess"
    assert "hunter2" not in redactor.known("password is hunter2-very-secret")


def test_values_are_fully_masked_before_they_are_cut() -> None:
    """Call sites mask credential patterns too (the exporter no longer rescans inputs and outputs), and a secret
    straddling the length limit leaves no readable prefix."""
    redactor = Redactor()
    secret = "sk-" + "A1b2C3d4" * 4
    assert redactor.value({"note": f"use {secret} here"}) == {"note": f"use {MASK} here"}
    text = "x" * (MAX_STRING - 10) + " " + secret
    bounded = redactor.string(text)
    assert "sk-A1b2" not in bounded and bounded.endswith("chars]")


def test_non_finite_floats_become_strings_so_payloads_stay_json() -> None:
    assert Redactor().value({"a": float("nan"), "b": float("inf"), "c": 0.5}) == {"a": "nan", "b": "inf", "c": 0.5}
    json.loads(json.dumps(Redactor().value([float("-inf")]), allow_nan=False))


class _Text(str):
    """A str subclass: its JSON is the same as a plain string's, so it must not share a remembered encoding."""


def _histories() -> list[list[dict[object, object]]]:
    """Message histories, with items whose content compares or encodes alike but masks differently."""
    tool_call = {"id": "c1", "type": "function", "function": {"name": "get_run", "arguments": '{"token": "abc123"}'}}
    deep: object = "leaf"
    for _ in range(14):
        deep = [deep]
    deep_tuple: object = "leaf"
    for _ in range(14):
        deep_tuple = (deep_tuple,)
    return [
        [{"role": "system", "content": "be brief"}, {"role": "user", "content": "use sk-" + "A1b2C3d4" * 4}],
        [{"role": "assistant", "content": None, "tool_calls": [tool_call]}, {"role": "tool", "content": "x" * 9000}],
        [{True: "a"}, {"True": "a"}, {"true": "a"}, {None: 1}, {"None": 1}, {1: "x"}, {"1": "x"}],
        [{"a": 1}, {"a": 1.0}, {"a": True}, {"a": -0.0}, {"a": 0.0}, {"a": float("nan")}, {"a": "nan"}],
        [{"a": _Text("secret-looking")}, {"a": "secret-looking"}, {_Text("password"): "hunter2"}],
        [{"a": deep}, {"a": deep_tuple}, {"a": [1, (2, 3)]}, {"a": [1, [2, 3]]}],
        [{"password": "hunter2-xyz"}, {"password": None}, {"blob": "QUJD" * 200}, {"long": "x y " * 3000}],
        [{"i": i} for i in range(250)],
    ]


def test_payload_is_exactly_the_json_of_value_with_remembered_items() -> None:
    """`payload` encodes message histories item by item from a cache: the text must be what encoding the masked
    value whole gives, whatever was remembered before (items in every order, twice over)."""
    shared = Redactor(["supersecretvalue123"])
    for history in _histories():
        for items in (history, history[::-1], history, [history[-1]], history[:1] * 3):
            expected = json.dumps(Redactor(["supersecretvalue123"]).value(items))
            assert shared.payload(items) == expected
            assert shared.payload(tuple(items)) == expected


def test_payload_masks_secrets_in_remembered_messages_too() -> None:
    redactor = Redactor(["supersecretvalue123"])
    history = [
        {"role": "user", "content": "the key is supersecretvalue123 and sk-" + "A1b2C3d4" * 4},
        {"role": "assistant", "content": None, "tool_calls": [{"function": {"arguments": '{"api_key": "k-123456"}'}}]},
        {"role": "tool", "content": "ok", "api_key": "hunter2-xyz"},
    ]
    for _ in range(3):
        text = redactor.payload(history)
        assert "supersecretvalue123" not in text and "A1b2C3d4" not in text and "hunter2" not in text
        assert "k-123456" not in text and text.count(MASK) == 4


def test_payload_keeps_strings_and_none_and_encodes_the_rest() -> None:
    redactor = Redactor()
    assert redactor.payload(None) is None
    assert redactor.payload("plain text") == "plain text"
    assert redactor.payload({"a": [1, 2.5, None]}) == '{"a": [1, 2.5, null]}'
    assert redactor.payload([]) == "[]"
    assert redactor.payload([{"a": 1}, "not a dict"]) == '[{"a": 1}, "not a dict"]'
