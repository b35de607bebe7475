"""An organizer's first day on the dashboard: what a new user would otherwise have to guess."""

from __future__ import annotations

from tests.conftest import ORGANIZER_TOKEN
from tests.fixtures_organizer import trained_client, trained_service  # noqa: F401 - fixtures
from tests.helpers import dashboard_login, label_for, parse_html


def test_top_field_says_its_default(trained_client, settings) -> None:  # noqa: F811
    """显示条数 left empty shows RECOMMENDER_SUGGESTIONS_TOP suggestions: its label and placeholder say so."""
    dashboard_login(trained_client, ORGANIZER_TOKEN)
    page = parse_html(trained_client.get("/organizer").text)
    field = page.by_id("filter-top")
    assert field.get("placeholder") == str(settings.suggestions_top)
    assert f"默认 {settings.suggestions_top}" in label_for(page, "filter-top").text
    assert "默认今天" in label_for(page, "filter-as-of").text
