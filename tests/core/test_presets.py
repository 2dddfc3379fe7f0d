"""Presets: the typed table builds exactly the specs it always has (a snapshot taken before presets became
typed), and every derived list (CLI flags, dialog fields, README, icons) follows the table."""

import json
from pathlib import Path
from typing import Any

import pytest

from desktop_app.core.providers import ProviderSpec, preset

SNAPSHOT: dict[str, list[dict[str, Any]]] = json.loads(
    (Path(__file__).with_name("presets_snapshot.json")).read_text(encoding="utf-8")
)


@pytest.mark.parametrize("key", sorted(SNAPSHOT))
def test_presets_build_the_specs_they_always_have(key: str) -> None:
    # New presets need no entry here; one that changes on purpose updates its entry.
    for case in SNAPSHOT[key]:
        spec = preset(key, **case["params"])
        assert json.loads(json.dumps(spec.to_json())) == case["spec"], case["params"]
        assert ProviderSpec.from_json(case["spec"]) == spec
