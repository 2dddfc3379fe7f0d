"""--redirect-port and --redirect-path: parsed, range-checked, and carried into the request and the spec."""

from __future__ import annotations

import pytest

from desktop_app.core.errors import UsageError
from desktop_app.core.oauth import new_http_client
from desktop_app.core.paths import AppPaths
from desktop_app.core.service import ConnectRequest, Service
from desktop_app.core.vault import Vault


def test_redirect_port_and_path_reach_the_request() -> None:
    from desktop_app.cli import _connect_request, build_parser

    args = build_parser().parse_args(
        ["connect", "--provider", "keycloak", "--client-id", "c", "--redirect-port", "8765", "--redirect-path", "/cb"]
    )
    request = _connect_request(args)
    assert (request.redirect_port, request.redirect_path) == (8765, "/cb")


@pytest.mark.parametrize(
    ("port", "message"),
    [
        ("80", "80 is outside 1024-65535 (ports below 1024 can only be opened by root)"),
        ("65536", "65536 is outside 1024-65535"),
        ("http", "'http' is not a port number"),
    ],
)
def test_redirect_port_outside_the_range_is_a_usage_error(
    port: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from desktop_app.cli import main

    with pytest.raises(SystemExit) as usage:
        main(["connect", "--provider", "github", "--client-id", "c", "--redirect-port", port])
    assert usage.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"redirect_path": "cb"}, "must start with a single '/'"),
        ({"redirect_path": "//evil.example/cb"}, "must start with a single '/'"),
        ({"redirect_path": "/cb?x=1"}, "must not contain a query (?) or fragment (#)"),
        ({"redirect_path": "/cb#f"}, "must not contain a query (?) or fragment (#)"),
        ({"redirect_port": 443}, "ports below 1024 can only be opened by root"),
    ],
)
async def test_service_refuses_bad_redirect_settings_before_anything_else(
    tmp_path: object, kwargs: dict[str, object], message: str
) -> None:
    from pathlib import Path

    base = Path(str(tmp_path))
    paths = AppPaths(config_dir=base / "c", state_dir=base / "s", log_dir=base / "l", runtime_dir=base / "r")
    service = Service(paths=paths, vault=Vault(service="tokendesk-unused"), http=new_http_client())
    try:
        # The issuer is unreachable: the check must come before discovery, or this would be a network error.
        request = ConnectRequest(client_id="c", issuer="https://nowhere.invalid", **kwargs)  # type: ignore[arg-type]
        with pytest.raises(UsageError) as caught:
            await service.resolve_provider(request)
        assert message in str(caught.value)
    finally:
        await service._http.aclose()


async def test_port_and_path_land_in_the_spec(tmp_path: object) -> None:
    from pathlib import Path

    base = Path(str(tmp_path))
    paths = AppPaths(config_dir=base / "c", state_dir=base / "s", log_dir=base / "l", runtime_dir=base / "r")
    service = Service(paths=paths, vault=Vault(service="tokendesk-unused"), http=new_http_client())
    try:
        request = ConnectRequest(
            client_id="c", preset="keycloak", preset_params={"domain": "kc.example.com", "realm": "r"},
            redirect_port=8765, redirect_path="/cb/exact",
        )  # fmt: skip
        spec = await service.resolve_provider(request)
        assert (spec.redirect_port, spec.redirect_path, spec.redirect_host) == (8765, "/cb/exact", "127.0.0.1")
    finally:
        await service._http.aclose()
