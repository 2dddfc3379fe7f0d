"""Provider specs: endpoints, scopes, client authentication, redirect rules and named quirks; presets."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from string import Formatter
from typing import Any
from urllib.parse import urlsplit

from .errors import Hint, Input, UsageError
from .urls import check_endpoint


class ClientAuth(StrEnum):
    """How the client authenticates at the token endpoint (RFC 6749 §2.3)."""

    NONE = "none"
    POST = "client_secret_post"
    BASIC = "client_secret_basic"


class OfflineAccess(StrEnum):
    """How a refresh token is asked for."""

    SCOPE = "scope"  # the offline_access scope (OIDC Core §11), with prompt=consent
    PARAMS = "params"  # provider-specific authorization parameters (extra_auth_params)
    ALWAYS = "always"  # the provider issues refresh tokens without being asked
    NONE = "none"  # no refresh tokens at all


class RevocationKind(StrEnum):
    """Which revocation API the provider offers; the request each sends is built in revocation.py."""

    RFC7009 = "rfc7009"  # RFC 7009 at revocation_endpoint (none when that is unset, as in older records)
    GITHUB_GRANT = "github-grant"  # DELETE /applications/{client_id}/grant, Basic client_id:secret
    SLACK_AUTH_REVOKE = "slack-auth-revoke"  # auth.revoke with the token as Bearer; ok=false in HTTP 200
    DROPBOX_TOKEN_REVOKE = "dropbox-token-revoke"  # POST /2/auth/token/revoke with the token as Bearer
    NONE = "none"  # no API: the user removes the app's access at the provider


# Loopback redirects: ports below 1024 need root to bind, so a registration naming one cannot be served.
MIN_REDIRECT_PORT = 1024
MAX_REDIRECT_PORT = 65535
DEFAULT_REDIRECT_PATH = "/callback"


def check_redirect_port(port: int) -> int:
    if not MIN_REDIRECT_PORT <= port <= MAX_REDIRECT_PORT:
        raise UsageError(
            f"The redirect port must be between {MIN_REDIRECT_PORT} and {MAX_REDIRECT_PORT}, not {port}: ports "
            "below 1024 can only be opened by root, so register a redirect URI with a higher port.",
            input=Input.REDIRECT_PORT,
            hint=Hint.CHANGE_INPUT,
        )
    return port


def check_redirect_path(path: str) -> str:
    if not path.startswith("/") or path.startswith("//"):
        raise UsageError(
            f"The redirect path must start with a single '/', like /callback (not {path!r}).",
            input=Input.REDIRECT_PATH,
            hint=Hint.CHANGE_INPUT,
        )
    if "?" in path or "#" in path:
        raise UsageError(
            f"The redirect path {path!r} must not contain a query (?) or fragment (#).",
            input=Input.REDIRECT_PATH,
            hint=Hint.CHANGE_INPUT,
        )
    if any(c.isspace() or ord(c) < 0x20 for c in path) or "%" in path:
        raise UsageError(
            f"The redirect path {path!r} must not contain white space, control characters or '%'.",
            input=Input.REDIRECT_PATH,
            hint=Hint.CHANGE_INPUT,
        )
    return path


class Quirk(StrEnum):
    """Departures from the RFCs, each named so it is tested and applied only where a preset says so."""

    ERRORS_IN_200 = "errors-in-200"  # GitHub, Slack: failures come back as HTTP 200 with an error field / ok=false
    NON_BEARER_TOKEN_TYPE = "non-bearer-token-type"  # Slack: token_type "user"/"bot", used as Bearer anyway
    TOKEN_TYPE_OPTIONAL = "token-type-optional"  # Slack: some answers omit token_type
    SLACK_AUTHED_USER = "slack-authed-user"  # Slack: the user token sits in authed_user{}
    COMMA_SCOPES = "comma-scopes"  # GitHub, Slack: scopes are comma separated
    ISSUER_PER_TENANT = "issuer-per-tenant"  # Microsoft: id token iss names the tenant (tid), not "common"
    ISSUER_WITHOUT_SCHEME = "issuer-without-scheme"  # Google: iss may be "accounts.google.com"
    REFRESH_SENDS_SCOPE = "refresh-sends-scope"  # Microsoft: the refresh grant must repeat the scopes


@dataclass(frozen=True)
class ProviderSpec:
    key: str
    display_name: str
    authorization_endpoint: str
    token_endpoint: str
    issuer: str | None = None
    revocation_endpoint: str | None = None
    userinfo_endpoint: str | None = None
    jwks_uri: str | None = None
    # RFC 8628: sign-in on another device; None when the provider has no device flow (or we do not know it).
    device_authorization_endpoint: str | None = None
    default_scopes: tuple[str, ...] = ()
    offline_access: OfflineAccess = OfflineAccess.SCOPE
    extra_auth_params: tuple[tuple[str, str], ...] = ()
    client_auth: ClientAuth = ClientAuth.NONE
    requires_secret: bool = False
    redirect_host: str = "127.0.0.1"
    # 0: any free port (RFC 8252 §7.3); else the one port the registration names, for servers that match
    # redirect URIs exactly (Glewlwyd, many Keycloak/Authentik setups, Slack).
    redirect_port: int = 0
    redirect_path: str = DEFAULT_REDIRECT_PATH
    revocation: RevocationKind = RevocationKind.RFC7009
    # Where the user removes the app's access by hand when it cannot be revoked from here.
    grants_pages: tuple[str, ...] = ()
    iss_parameter_supported: bool = False
    # OIDC Core §11: offline_access needs prompt=consent "unless other conditions ... are in place". Entra,
    # Okta, Auth0 and Keycloak issue refresh tokens without it, and forcing consent blocks Entra users
    # whose admin consented for them (AADSTS90094), so their presets turn it off.
    consent_for_offline: bool = True
    id_token_algs: tuple[str, ...] = ()
    quirks: frozenset[Quirk] = frozenset()
    error_aliases: Mapping[str, str] = field(default_factory=dict)
    advice: tuple[tuple[str, str], ...] = ()  # (substring of error_description, advice for the user)

    def __post_init__(self) -> None:
        for name in (
            "authorization_endpoint",
            "token_endpoint",
            "revocation_endpoint",
            "userinfo_endpoint",
            "jwks_uri",
            "device_authorization_endpoint",
        ):
            value = getattr(self, name)
            if value is not None:
                check_endpoint(value, what=name.replace("_", " "))
        if self.redirect_host not in ("127.0.0.1", "localhost"):
            raise UsageError(
                f"redirect host must be 127.0.0.1 or localhost, not {self.redirect_host!r}",
                input=Input.REDIRECT_HOST,
                hint=Hint.CHANGE_INPUT,
            )
        if self.redirect_port:
            check_redirect_port(self.redirect_port)
        check_redirect_path(self.redirect_path)

    @property
    def is_oidc(self) -> bool:
        return self.issuer is not None and self.jwks_uri is not None

    def advice_for(self, description: str | None) -> str | None:
        if not description:
            return None
        for needle, text in self.advice:
            if needle.lower() in description.lower():
                return text
        return None

    def to_json(self) -> dict[str, Any]:
        # Shallow on purpose (dataclasses.asdict deep-copies, which made saving 300 accounts slow).
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data["quirks"] = sorted(q.value for q in self.quirks)
        data["error_aliases"] = dict(self.error_aliases)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, check: bool = True) -> ProviderSpec:
        """`check=False` skips the endpoint rules: only for showing a stored record the rules now refuse
        (`validated()` applies them again before anything is sent)."""
        known = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}
        for name in ("default_scopes", "id_token_algs", "grants_pages"):
            if name in kwargs:
                kwargs[name] = tuple(kwargs[name])
        kwargs["extra_auth_params"] = tuple(tuple(p) for p in kwargs.get("extra_auth_params", ()))
        kwargs["advice"] = tuple(tuple(p) for p in kwargs.get("advice", ()))
        kwargs["quirks"] = frozenset(Quirk(q) for q in kwargs.get("quirks", ()) if q in Quirk._value2member_map_)
        kwargs["offline_access"] = OfflineAccess(kwargs.get("offline_access", "scope"))
        kwargs["client_auth"] = ClientAuth(kwargs.get("client_auth", "none"))
        # Records from before revocation kinds: RFC 7009 (at revocation_endpoint, if any), as they were.
        kind = kwargs.get("revocation", "rfc7009")
        kwargs["revocation"] = RevocationKind(kind if kind in RevocationKind._value2member_map_ else "rfc7009")
        if check:
            return cls(**kwargs)
        spec = object.__new__(cls)
        for f in dataclasses.fields(cls):
            if f.name in kwargs:
                value = kwargs[f.name]
            elif f.default is not dataclasses.MISSING:
                value = f.default
            elif f.default_factory is not dataclasses.MISSING:
                value = f.default_factory()
            else:
                value = ""
            object.__setattr__(spec, f.name, value)
        return spec

    def validated(self) -> ProviderSpec:
        """This spec, checked against today's endpoint rules (raises InvalidEndpoint)."""
        return dataclasses.replace(self)


# --- presets ------------------------------------------------------------------------------------

_MS_ADVICE = (
    ("AADSTS700082", "The sign-in expired after a long time unused. Reconnect the account."),
    ("AADSTS70043", "Your organisation's conditional access policy requires signing in again periodically."),
    ("AADSTS50173", "The grant was revoked, usually because the password changed. Reconnect the account."),
    ("AADSTS65001", "Consent for this app was withdrawn. Reconnect and approve it again."),
)
_GOOGLE_ADVICE = (
    ("invalid_rapt", "Your Google Workspace session policy requires signing in again (reauth). Reconnect."),
    (
        "expired or revoked",
        "The token was revoked or expired. If the Google Cloud app is in 'Testing' status, Google expires its "
        "refresh tokens after 7 days: publish the app, or reconnect.",
    ),
    (
        "device flow",
        "Google's device flow needs an OAuth client of type 'TVs and Limited Input devices' and allows only "
        "openid, email, profile and a few Drive/YouTube scopes.",
    ),
)
_GITHUB_ERRORS = {
    "bad_refresh_token": "invalid_grant",
    "bad_verification_code": "invalid_grant",
    "incorrect_client_credentials": "invalid_client",
    "redirect_uri_mismatch": "invalid_request",
    "unverified_user_email": "invalid_request",
    # Device flow (RFC 8628 answers under GitHub's own names).
    "incorrect_device_code": "invalid_grant",
    "device_flow_disabled": "unauthorized_client",
}
_SLACK_ERRORS = {
    "invalid_refresh_token": "invalid_grant",
    "invalid_code": "invalid_grant",
    "code_already_used": "invalid_grant",
    "token_revoked": "invalid_grant",
    "token_expired": "invalid_grant",
    "invalid_client_id": "invalid_client",
    "bad_client_secret": "invalid_client",
    "invalid_grant_type": "unsupported_grant_type",
    "ratelimited": "temporarily_unavailable",
}


class SpecTemplate(ProviderSpec):
    """A preset's ProviderSpec before its parameters are known: str fields (and tuples of them) may hold
    `{param}` placeholders (`{{`/`}}` for a literal brace). Typed like ProviderSpec, so a misspelled field
    or quirk fails at import; the endpoint checks run on the filled spec (`Preset.build`), not here."""

    def __post_init__(self) -> None:
        pass  # "https://{domain}/token" is not a URL yet


class ParamKind(StrEnum):
    """How a preset parameter is cleaned before it goes into URLs."""

    DOMAIN = "domain"  # a host (with port and path prefix, if any) or https:// URL, lower-cased host
    SEGMENT = "segment"  # one URL path segment: a tenant, realm or server ID

    @property
    def description(self) -> str:
        return "a host name or https:// URL" if self is ParamKind.DOMAIN else "a name without / ? # @ or spaces"


@dataclass(frozen=True)
class PresetParam:
    """A value the user gives for a preset (`--name` on the command line, a field in the connect dialog)."""

    name: str
    help: str  # says what it is, with an example
    default: str | None = None  # None: required
    kind: ParamKind = ParamKind.SEGMENT

    @property
    def label(self) -> str:
        return self.name.capitalize()

    @property
    def required(self) -> bool:
        return self.default is None

    def clean(self, value: str) -> str:
        value = value.strip()
        if self.kind is ParamKind.DOMAIN:
            # Accept "example.okta.com" as well as "https://example.okta.com/".
            parts = urlsplit(value if "://" in value else f"https://{value}")
            if parts.scheme != "https" or not parts.hostname:
                raise UsageError(
                    f"{value!r} is not a domain name or https:// URL.", input=Input(self.name), hint=Hint.CHANGE_INPUT
                )
            host = parts.hostname + (f":{parts.port}" if parts.port else "")  # hostname is lower-cased
            return (host + parts.path).rstrip("/")
        if not value or any(c in value for c in "/?#@ "):
            raise UsageError(f"{value!r} is not a valid {self.name}.", input=Input(self.name), hint=Hint.CHANGE_INPUT)
        return value


def _placeholders(value: object) -> set[str]:
    if isinstance(value, str) and not isinstance(value, Enum):
        return {name for _, name, _, _ in Formatter().parse(value) if name is not None}
    if isinstance(value, tuple):
        return set().union(*(_placeholders(v) for v in value))
    return set()


def _fill(value: Any, params: Mapping[str, str]) -> Any:
    if isinstance(value, str) and not isinstance(value, Enum):
        return value.format_map(params)
    if isinstance(value, tuple):
        return tuple(_fill(v, params) for v in value)
    return value


@dataclass(frozen=True)
class Preset:
    """A provider's spec with `{name}` placeholders for the parameters it declares (tenant, domain, realm)."""

    template: SpecTemplate
    params: tuple[PresetParam, ...] = ()

    def __post_init__(self) -> None:
        # Raised at import: a placeholder nobody can fill, or a parameter nothing uses, is a typo.
        used = set().union(*(_placeholders(getattr(self.template, f.name)) for f in dataclasses.fields(ProviderSpec)))
        declared = [p.name for p in self.params]
        if used != set(declared) or len(declared) != len(set(declared)):
            raise ValueError(f"preset {self.key!r} uses placeholders {sorted(used)} but declares {declared}")

    @property
    def key(self) -> str:
        return self.template.key

    @property
    def display_name(self) -> str:
        return self.template.display_name

    @property
    def help(self) -> str:
        return "; ".join(p.help for p in self.params)

    def build(self, values: Mapping[str, str] | None = None) -> ProviderSpec:
        given = {k: v for k, v in (values or {}).items() if v}
        unknown = set(given) - {p.name for p in self.params}
        if unknown:
            raise UsageError(f"{self.display_name} does not take {', '.join(sorted(unknown))}.")
        filled: dict[str, str] = {}
        for p in self.params:
            value = given.get(p.name, p.default)
            if not value:
                raise UsageError(
                    f"{self.display_name} needs a {p.name} ({p.help}).", input=Input(p.name), hint=Hint.GIVE_INPUT
                )
            filled[p.name] = p.clean(value)
        fields = dataclasses.fields(ProviderSpec)
        return ProviderSpec(**{f.name: _fill(getattr(self.template, f.name), filled) for f in fields})


_OIDC_SCOPES = ("openid", "email", "profile", "offline_access")
_DOMAIN = ParamKind.DOMAIN

PRESETS: dict[str, Preset] = {
    p.key: p
    for p in (
        Preset(
            SpecTemplate(
                key="google",
                display_name="Google",
                issuer="https://accounts.google.com",
                authorization_endpoint="https://accounts.google.com/o/oauth2/v2/auth",
                token_endpoint="https://oauth2.googleapis.com/token",
                revocation_endpoint="https://oauth2.googleapis.com/revoke",
                # Google allows only a few scopes in the device flow (openid, email, profile, Drive files,
                # YouTube); other scopes fail with invalid_scope, and the client must be a "TVs and Limited
                # Input devices" one (see _GOOGLE_ADVICE).
                device_authorization_endpoint="https://oauth2.googleapis.com/device/code",
                userinfo_endpoint="https://openidconnect.googleapis.com/v1/userinfo",
                jwks_uri="https://www.googleapis.com/oauth2/v3/certs",
                default_scopes=("openid", "email", "profile"),
                # Google ignores offline_access; it wants these, and prompt=consent to re-issue a refresh token.
                offline_access=OfflineAccess.PARAMS,
                extra_auth_params=(("access_type", "offline"), ("prompt", "consent")),
                # Desktop-app clients still get (non-confidential) secrets, which Google requires.
                client_auth=ClientAuth.POST,
                requires_secret=True,
                quirks=frozenset({Quirk.ISSUER_WITHOUT_SCHEME}),
                grants_pages=("https://myaccount.google.com/permissions",),
                advice=_GOOGLE_ADVICE,
            )
        ),
        Preset(
            SpecTemplate(
                key="microsoft",
                display_name="Microsoft",
                issuer="https://login.microsoftonline.com/{tenant}/v2.0",
                authorization_endpoint="https://login.microsoftonline.com/{tenant}/oauth2/v2.0/authorize",
                token_endpoint="https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token",
                userinfo_endpoint="https://graph.microsoft.com/oidc/userinfo",
                jwks_uri="https://login.microsoftonline.com/{tenant}/discovery/v2.0/keys",
                device_authorization_endpoint="https://login.microsoftonline.com/{tenant}/oauth2/v2.0/devicecode",
                default_scopes=_OIDC_SCOPES,
                offline_access=OfflineAccess.SCOPE,
                consent_for_offline=False,
                # Entra ID desktop registrations use "http://localhost" redirects (any port is accepted).
                redirect_host="localhost",
                # Entra rotates refresh tokens without revoking the previous one; there is no RFC 7009 endpoint.
                quirks=frozenset({Quirk.ISSUER_PER_TENANT, Quirk.REFRESH_SENDS_SCOPE}),
                revocation=RevocationKind.NONE,
                # Work or school accounts, then personal Microsoft accounts.
                grants_pages=("https://myapplications.microsoft.com", "https://account.live.com/consent/Manage"),
                advice=_MS_ADVICE,
            ),
            params=(
                PresetParam("tenant", "directory (tenant) ID or domain; common, organizations or consumers", "common"),
            ),
        ),
        Preset(
            SpecTemplate(
                key="github",
                display_name="GitHub",
                authorization_endpoint="https://github.com/login/oauth/authorize",
                token_endpoint="https://github.com/login/oauth/access_token",
                userinfo_endpoint="https://api.github.com/user",
                # Needs "Enable Device Flow" in the app's settings, else device_flow_disabled.
                device_authorization_endpoint="https://github.com/login/device/code",
                default_scopes=(),
                # GitHub App user tokens expire after 8 h and come with a refresh token that itself expires
                # (refresh_token_expires_in); OAuth App tokens never expire and have none.
                offline_access=OfflineAccess.ALWAYS,
                client_auth=ClientAuth.POST,
                requires_secret=True,
                quirks=frozenset({Quirk.ERRORS_IN_200, Quirk.COMMA_SCOPES}),
                error_aliases=_GITHUB_ERRORS,
                # Not RFC 7009: deleting the grant ends all of the app's tokens for this user; revocation.py
                # puts in the client ID.
                revocation=RevocationKind.GITHUB_GRANT,
                revocation_endpoint="https://api.github.com/applications/{{client_id}}/grant",
                grants_pages=("https://github.com/settings/applications",),
            )
        ),
        Preset(
            SpecTemplate(
                key="gitlab",
                display_name="GitLab",
                issuer="https://{domain}",
                authorization_endpoint="https://{domain}/oauth/authorize",
                token_endpoint="https://{domain}/oauth/token",
                revocation_endpoint="https://{domain}/oauth/revoke",
                userinfo_endpoint="https://{domain}/oauth/userinfo",
                jwks_uri="https://{domain}/oauth/discovery/keys",
                device_authorization_endpoint="https://{domain}/oauth/authorize_device",
                default_scopes=("openid", "email", "profile", "read_user"),
                # GitLab always issues a refresh token and rotates it on every use.
                offline_access=OfflineAccess.ALWAYS,
                grants_pages=("https://{domain}/-/user_settings/applications",),
            ),
            params=(PresetParam("domain", "your GitLab host, e.g. gitlab.example.com", "gitlab.com", _DOMAIN),),
        ),
        Preset(
            SpecTemplate(
                key="slack",
                display_name="Slack",
                authorization_endpoint="https://slack.com/oauth/v2/authorize",
                token_endpoint="https://slack.com/api/oauth.v2.access",
                default_scopes=(),
                # With token rotation enabled the app gets single-use refresh tokens, every one rotated.
                offline_access=OfflineAccess.ALWAYS,
                client_auth=ClientAuth.POST,
                requires_secret=True,
                quirks=frozenset(
                    {
                        Quirk.ERRORS_IN_200,
                        Quirk.NON_BEARER_TOKEN_TYPE,
                        Quirk.TOKEN_TYPE_OPTIONAL,
                        Quirk.SLACK_AUTHED_USER,
                        Quirk.COMMA_SCOPES,
                    }
                ),
                error_aliases=_SLACK_ERRORS,
                revocation=RevocationKind.SLACK_AUTH_REVOKE,
                revocation_endpoint="https://slack.com/api/auth.revoke",
                # Redirects to the signed-in workspace's app management.
                grants_pages=("https://slack.com/apps/manage",),
            )
        ),
        Preset(
            SpecTemplate(
                key="auth0",
                display_name="Auth0",
                issuer="https://{domain}/",
                authorization_endpoint="https://{domain}/authorize",
                token_endpoint="https://{domain}/oauth/token",
                revocation_endpoint="https://{domain}/oauth/revoke",
                userinfo_endpoint="https://{domain}/userinfo",
                jwks_uri="https://{domain}/.well-known/jwks.json",
                device_authorization_endpoint="https://{domain}/oauth/device/code",
                default_scopes=_OIDC_SCOPES,
                consent_for_offline=False,
            ),
            params=(PresetParam("domain", "your Auth0 tenant domain, e.g. example.eu.auth0.com", kind=_DOMAIN),),
        ),
        Preset(
            SpecTemplate(
                key="okta",
                display_name="Okta",
                issuer="https://{domain}/oauth2/{server}",
                authorization_endpoint="https://{domain}/oauth2/{server}/v1/authorize",
                token_endpoint="https://{domain}/oauth2/{server}/v1/token",
                revocation_endpoint="https://{domain}/oauth2/{server}/v1/revoke",
                userinfo_endpoint="https://{domain}/oauth2/{server}/v1/userinfo",
                jwks_uri="https://{domain}/oauth2/{server}/v1/keys",
                device_authorization_endpoint="https://{domain}/oauth2/{server}/v1/device/authorize",
                default_scopes=_OIDC_SCOPES,
                consent_for_offline=False,
            ),
            params=(
                PresetParam("domain", "your Okta domain, e.g. example.okta.com", kind=_DOMAIN),
                PresetParam("server", "the authorization server ID, e.g. aus1a2b3c4d", "default"),
            ),
        ),
        Preset(
            SpecTemplate(
                key="keycloak",
                display_name="Keycloak",
                issuer="https://{domain}/realms/{realm}",
                authorization_endpoint="https://{domain}/realms/{realm}/protocol/openid-connect/auth",
                token_endpoint="https://{domain}/realms/{realm}/protocol/openid-connect/token",
                revocation_endpoint="https://{domain}/realms/{realm}/protocol/openid-connect/revoke",
                userinfo_endpoint="https://{domain}/realms/{realm}/protocol/openid-connect/userinfo",
                jwks_uri="https://{domain}/realms/{realm}/protocol/openid-connect/certs",
                device_authorization_endpoint="https://{domain}/realms/{realm}/protocol/openid-connect/auth/device",
                default_scopes=_OIDC_SCOPES,
                consent_for_offline=False,
            ),
            params=(
                PresetParam("domain", "your Keycloak host and path prefix, if any, e.g. sso.example.com", kind=_DOMAIN),
                PresetParam("realm", "the realm, e.g. staff"),
            ),
        ),
        Preset(
            SpecTemplate(
                key="dropbox",
                display_name="Dropbox",
                issuer="https://www.dropbox.com",
                authorization_endpoint="https://www.dropbox.com/oauth2/authorize",
                token_endpoint="https://api.dropboxapi.com/oauth2/token",
                userinfo_endpoint="https://api.dropboxapi.com/2/openid/userinfo",
                jwks_uri="https://www.dropbox.com/oauth2/jwks",
                default_scopes=(),
                offline_access=OfflineAccess.PARAMS,
                extra_auth_params=(("token_access_type", "offline"),),
                revocation=RevocationKind.DROPBOX_TOKEN_REVOKE,
                revocation_endpoint="https://api.dropboxapi.com/2/auth/token/revoke",
                grants_pages=("https://www.dropbox.com/account/connected_apps",),
                redirect_host="localhost",
            )
        ),
    )
}


def preset_parameters() -> dict[str, list[tuple[str, PresetParam]]]:
    """Every parameter name some preset takes, with (preset key, declaration) for each preset taking it."""
    found: dict[str, list[tuple[str, PresetParam]]] = {}
    for key, p in PRESETS.items():
        for param in p.params:
            found.setdefault(param.name, []).append((key, param))
    return found


def preset(key: str, **params: str) -> ProviderSpec:
    try:
        return PRESETS[key.lower()].build(params)
    except KeyError:
        raise UsageError(
            f"Unknown provider {key!r}; choose one of: {', '.join(sorted(PRESETS))}.", input=Input.PROVIDER
        ) from None
