#!/usr/bin/env python3
"""Render the main window with sample accounts in every state to docs/screenshot.png (+ a dark variant).

Run under Xvfb: `xvfb-run -a .venv/bin/python scripts/screenshot.py`. Sample accounts are metadata only, in a
throwaway XDG config dir; no keychain, no network, no service.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

NOW = 1_800_000_000.0


def sample_records() -> list[object]:
    from desktop_app.core.accounts import AccountRecord, AccountState, Attempt, Identity
    from desktop_app.core.providers import preset

    def record(n: int, key: str, who: Identity, state: AccountState, **kw: object) -> AccountRecord:
        params = {"auth0": {"domain": "acme.eu.auth0.com"}, "okta": {"domain": "acme.okta.com"}}.get(key, {})
        if key == "keycloak":
            params = {"domain": "sso.example.org", "realm": "staff"}
        spec = preset(key, **params)
        base = AccountRecord(
            id=f"sample{n}",
            name=f"{spec.display_name} – {who.label()}",
            provider=spec,
            client_id=f"client-{n}",
            scopes=spec.default_scopes,
            identity=who,
            state=state,
            created_at=NOW - 86400 * (30 - n),
            issued_at=NOW - 600,
            expires_at=NOW + 3000,
            last_refresh_at=NOW - 600,
            history=(Attempt(NOW - 4200, "ok"), Attempt(NOW - 600, "ok")),
        )
        return replace(base, **kw)  # type: ignore[arg-type]

    S = AccountState
    return [
        record(1, "google", Identity("1", "ada@example.com"), S.VALID),
        record(2, "microsoft", Identity("2", "grace.hopper@contoso.com"), S.EXPIRING, expires_at=NOW + 235),
        record(3, "github", Identity("3", username="linus"), S.REFRESHING),
        record(4, "gitlab", Identity("4", "margaret@gitlab.example"), S.VALID, refresh_expires_at=NOW + 5 * 86400),
        record(
            5,
            "slack",
            Identity("5", "katherine@acme.slack.test"),
            S.NEEDS_SIGN_IN,
            last_error="The grant was revoked at Slack (invalid_grant).",
        ),
        record(6, "okta", Identity("6", "alan@acme.example"), S.CONFIG_ERROR, last_error="invalid_client"),
        record(
            7,
            "keycloak",
            Identity("7", username="barbara"),
            S.RETRYING,
            offline=True,
            retry_at=NOW + 30,
            last_error="Cannot reach sso.example.org.",
        ),
        record(8, "dropbox", Identity("8", "tim@example.net"), S.VALID),
    ]


def dark_palette() -> object:
    from PySide6.QtGui import QColor, QPalette

    p = QPalette()
    roles = QPalette.ColorRole
    colours = {
        roles.Window: "#2b2d30",
        roles.WindowText: "#e6e6e6",
        roles.Base: "#1f2023",
        roles.AlternateBase: "#2f3135",
        roles.Text: "#e6e6e6",
        roles.Button: "#34363a",
        roles.ButtonText: "#e6e6e6",
        roles.Highlight: "#3d6fb4",
        roles.HighlightedText: "#ffffff",
        roles.ToolTipBase: "#34363a",
        roles.ToolTipText: "#e6e6e6",
        roles.PlaceholderText: "#9a9ca1",
        roles.Link: "#79b8ff",
        roles.Mid: "#45474c",
        roles.Midlight: "#3a3c40",
        roles.Dark: "#1a1b1d",
        roles.Shadow: "#000000",
        roles.Light: "#4a4c51",
        roles.BrightText: "#ffffff",
    }
    for role, value in colours.items():
        p.setColor(role, QColor(value))
    for role in (roles.Text, roles.WindowText, roles.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor("#7b7d82"))
    return p


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    parser.add_argument("--empty", action="store_true", help="also render the empty state (screenshot-empty.png)")
    parser.add_argument(
        "--dialogs", type=Path, metavar="DIR", help="also render Details and Connect (for review, not the README)"
    )
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="tokendesk-shot-"))
    os.environ["XDG_CONFIG_HOME"] = str(tmp / "config")
    os.environ["XDG_STATE_HOME"] = str(tmp / "state")

    from PySide6.QtCore import QItemSelectionModel
    from PySide6.QtWidgets import QApplication

    from desktop_app.core.accounts import AccountStore
    from desktop_app.core.paths import AppPaths
    from desktop_app.ui import icons
    from desktop_app.ui.app import Controller

    app = QApplication([sys.argv[0]])
    app.setStyle("Fusion")
    app.setWindowIcon(icons.app_icon())
    light = app.palette()
    paths = AppPaths.default()
    store = AccountStore(paths.accounts_file)
    args.out.mkdir(parents=True, exist_ok=True)

    def shoot(name: str, palette: object, *, with_accounts: bool) -> None:
        app.setPalette(palette)  # type: ignore[arg-type]
        paths.accounts_file.unlink(missing_ok=True)
        if with_accounts:
            for record in sample_records():
                store.add(record)  # type: ignore[arg-type]
        controller = Controller(paths, now=lambda: NOW)
        window = controller.window
        window.preview = True
        window._update_actions()
        window.resize(780, 640)
        window.show()
        if with_accounts:
            index = controller.model.index(1)
            window.list.setCurrentIndex(index)
            window.list.selectionModel().select(index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
            window.countdown_label.setText("Clipboard clears in 38 s")
        for _ in range(5):
            app.processEvents()
        window.grab().save(str(args.out / name))
        print(args.out / name)
        window.hide()
        controller.tray.hide()
        window.deleteLater()
        controller.deleteLater()
        app.processEvents()

    def shoot_dialogs(out: Path) -> None:
        from desktop_app.ui.connect_dialog import CUSTOM, ConnectDialog
        from desktop_app.ui.details import DetailsDialog

        app.setPalette(light)  # type: ignore[arg-type]
        out.mkdir(parents=True, exist_ok=True)
        records = sample_records()
        dead = replace(
            records[4],  # type: ignore[type-var]
            name="Slack – katherine.johnson-with-a-really-long-workspace-name@acme-corporation.slack.test",
            expires_at=NOW + 47,
            last_error=(
                "The grant was revoked at Slack (invalid_grant): the refresh token is no longer valid because the "
                "workspace administrator removed the app's access."
            ),
        )
        controller = Controller(paths, now=lambda: NOW)
        details = DetailsDialog(dead, now=lambda: NOW, parent=controller.window)  # type: ignore[arg-type]
        details.show()
        from desktop_app.ui.bridge import Bridge

        class NoService:
            def subscribe(self, listener: object) -> object:
                return lambda: None

        connect = ConnectDialog(Bridge(NoService()), parent=controller.window)  # type: ignore[arg-type]
        connect.select_provider(CUSTOM)
        connect.issuer.editor.setText("login.example.com")
        connect.show()
        for _ in range(5):
            app.processEvents()
        from desktop_app.ui.preferences import PreferencesDialog

        preferences = PreferencesDialog(controller.settings, parent=controller.window)
        preferences.show()
        for _ in range(5):
            app.processEvents()
        for name, widget in (("details.png", details), ("connect.png", connect), ("preferences.png", preferences)):
            widget.grab().save(str(out / name))
            print(out / name, widget.size().width(), widget.size().height())
        connect.submit()  # no bridge: validation only
        app.processEvents()
        connect.grab().save(str(out / "connect-checked.png"))

    if args.dialogs:
        shoot_dialogs(args.dialogs)
        return 0
    shoot("screenshot.png", light, with_accounts=True)
    shoot("screenshot-dark.png", dark_palette(), with_accounts=True)
    if args.empty:
        shoot("screenshot-empty.png", light, with_accounts=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
