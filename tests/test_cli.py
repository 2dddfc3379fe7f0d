"""The command line turns its options into the core's requests."""

from __future__ import annotations

import pytest


def test_connect_options_reach_the_request() -> None:
    from desktop_app.cli import _connect_request, build_parser
    from desktop_app.core.providers import ClientAuth

    args = build_parser().parse_args(
        [
            "connect",
            "--issuer",
            "https://id.example.com",
            "--client-id",
            "c",
            "--redirect-host",
            "localhost",
            "--client-auth",
            "client_secret_post",
            "--scope",
            "a b",
            "--scope",
            "c",
            "--name",
            "N",
        ]
    )
    request = _connect_request(args)
    assert request.redirect_host == "localhost" and request.client_auth is ClientAuth.POST
    assert request.scopes == ("a", "b", "c") and request.name == "N"


def test_min_valid_must_be_a_finite_number_of_seconds(capsys: pytest.CaptureFixture[str]) -> None:
    from desktop_app.cli import build_parser, main

    for bad in ("nan", "inf", "-inf", "-1", "soon"):
        with pytest.raises(SystemExit) as usage:
            main(["token", "any", "--min-valid", bad])
        assert usage.value.code == 2
        assert "--min-valid" in capsys.readouterr().err
    assert build_parser().parse_args(["token", "x", "--min-valid", "0"]).min_valid == 0.0
