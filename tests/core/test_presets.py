"""Presets: the typed table builds checked specs that survive the store, and every derived list (CLI flags, dialog
fields, README, icons) follows the table."""

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from desktop_app.core.errors import Hint, Input, InvalidEndpoint, UsageError
from desktop_app.core.providers import (
    PRESETS,
    ParamKind,
    Preset,
    PresetParam,
    ProviderSpec,
    Quirk,
    SpecTemplate,
    _placeholders,
    preset,
)


def sample_params(p: Preset) -> dict[str, str]:
    return {q.name: "example.test" if q.kind is ParamKind.DOMAIN else "rig" for q in p.params}


@pytest.mark.parametrize("key", sorted(PRESETS))
def test_every_preset_builds_a_spec_that_survives_the_store(key: str) -> None:
    """Filled, checked, and read back from accounts.json exactly (what reconnect and refresh will use)."""
    spec = preset(key, **sample_params(PRESETS[key]))
    texts = [v for v in spec.to_json().values() if isinstance(v, str)]
    assert not [t for t in texts if "{" in t.replace("{client_id}", "")]  # no placeholder left unfilled
    assert ProviderSpec.from_json(json.loads(json.dumps(spec.to_json()))) == spec


ROOT = Path(__file__).resolve().parents[2]


def readme_preset_list() -> str:
    """The README's sentence listing presets, white space collapsed."""
    text = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    start = text.index("Presets: ")
    return text[start : text.index(". ", start) + 1]


def expected_preset_list() -> str:
    def entry(p: Preset) -> str:
        params = [f"`--{q.name}`" + (f", default `{q.default}`" if q.default else "") for q in p.params]
        return f"`{p.key}`" + (f" ({', '.join(params)})" if params else "")

    return "Presets: " + ", ".join(entry(p) for p in PRESETS.values()) + "."


def test_the_readme_lists_every_preset_and_its_parameters() -> None:
    assert readme_preset_list() == expected_preset_list()


def test_the_cli_takes_every_preset_parameter_with_its_help() -> None:
    from desktop_app.cli import _connect_request, build_parser

    parser = build_parser()
    (commands,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    connect = commands.choices["connect"]
    flags = {a.dest: a for a in connect._actions}
    for key, p in PRESETS.items():
        for q in p.params:
            assert q.name in flags, f"--{q.name} ({key})"
            assert key in (flags[q.name].help or ""), f"--{q.name}'s help does not name {key}"
    args = parser.parse_args(
        ["connect", "--provider", "okta", "--client-id", "c", "--domain", "acme.okta.com", "--server", "aus1"]
    )
    assert _connect_request(args).preset_params == {"domain": "acme.okta.com", "server": "aus1"}


def test_a_typed_template_rejects_unknown_fields_and_quirks() -> None:
    with pytest.raises(TypeError, match="scope"):
        SpecTemplate(
            key="x", display_name="X", authorization_endpoint="https://a", token_endpoint="https://t", scope=()
        )  # type: ignore[call-arg]
    with pytest.raises(AttributeError):
        Quirk.ERRORS_IN_300  # type: ignore[attr-defined]  # noqa: B018


def template(**kw: object) -> SpecTemplate:
    fields: dict[str, Any] = {
        "key": "acme",
        "display_name": "Acme",
        "authorization_endpoint": "https://{domain}/authorize",
        "token_endpoint": "https://{domain}/token",
        **kw,
    }
    return SpecTemplate(**fields)


def test_placeholders_and_declared_parameters_must_match() -> None:
    domain = PresetParam("domain", "the host", kind=ParamKind.DOMAIN)
    with pytest.raises(ValueError, match="domain"):
        Preset(template())  # {domain} is used but not declared
    with pytest.raises(ValueError, match="realm"):
        Preset(template(), (domain, PresetParam("realm", "the realm")))  # realm is declared but not used
    with pytest.raises(ValueError, match="tenant"):
        Preset(template(grants_pages=("https://{tenant}.example.com",)), (domain,))  # in a tuple field too
    with pytest.raises(ValueError, match="declares"):
        Preset(template(), (domain, domain))
    # {{ }} is a literal brace, not a placeholder (GitHub's grant URL names the client ID, filled in later).
    spec = Preset(template(revocation_endpoint="https://{domain}/apps/{{client_id}}"), (domain,)).build(
        {"domain": "id.example.com"}
    )
    assert spec.revocation_endpoint == "https://id.example.com/apps/{client_id}"


@pytest.mark.parametrize("key", sorted(PRESETS))
def test_every_shipped_preset_uses_exactly_the_parameters_it_declares(key: str) -> None:
    p = PRESETS[key]
    used = set().union(*(_placeholders(getattr(p.template, f.name)) for f in dataclasses.fields(ProviderSpec)))
    assert used == {q.name for q in p.params}


def test_templates_are_checked_once_filled() -> None:
    # The template itself is not a URL yet; what it builds must pass the endpoint rules.
    acme = Preset(
        template(token_endpoint="http://{domain}/token"), (PresetParam("domain", "h", kind=ParamKind.DOMAIN),)
    )
    with pytest.raises(InvalidEndpoint, match="token endpoint"):
        acme.build({"domain": "id.example.com"})
    loopback = acme.build({"domain": "127.0.0.1:8080"})  # loopback may be plain HTTP, as for any spec
    assert loopback.token_endpoint == "http://127.0.0.1:8080/token" and type(loopback) is ProviderSpec


def test_parameters_are_cleaned_by_kind_and_required_ones_say_so() -> None:
    assert preset("gitlab", domain=" HTTPS://Git.Example.com/ ").issuer == "https://git.example.com"
    with pytest.raises(UsageError, match="not a valid realm") as bad:
        preset("keycloak", domain="sso.example.com", realm="a/b")
    assert (bad.value.input, bad.value.hint) == (Input.REALM, Hint.CHANGE_INPUT)
    with pytest.raises(UsageError, match="needs a realm") as missing:
        preset("keycloak", domain="sso.example.com")
    assert (missing.value.input, missing.value.hint) == (Input.REALM, Hint.GIVE_INPUT)
    assert [(q.name, q.required) for q in PRESETS["okta"].params] == [("domain", True), ("server", False)]
