"""The leak check shared by the end-to-end tests: no secret the provider saw may appear anywhere we look."""

from __future__ import annotations

from collections.abc import Iterable

from tests.rig.provider import OidcProvider


def assert_no_secret_seen_by_the_provider(
    provider: OidcProvider, haystacks: dict[str, str], *, also: Iterable[str] = (), need: tuple[str, ...] = ()
) -> None:
    """Search every haystack for every secret value the flow saw: the authorization code, PKCE verifier,
    ID token, access and refresh tokens (sent and issued) and posted client secrets, as the provider saw them."""
    seen = provider.seen()
    for kind in ("code", "code_verifier", "id_token", "access_token", "refresh_token", *need):
        assert seen[kind], f"the provider saw no {kind}: the search would prove nothing about it"
    secrets = {value for values in seen.values() for value in values} | set(also)
    assert all(len(s) >= 16 for s in secrets)  # long enough that a match cannot be chance
    for where, text in haystacks.items():
        for secret in secrets:
            kind = next((k for k, v in seen.items() if secret in v), "secret")
            assert secret not in text, f"a {kind} leaked into {where}"
