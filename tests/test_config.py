"""Configuration: the shipped default works; every mistake names its key and what is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest

from sms_gateway.config import ConfigError, from_dict, load

ROOT = Path(__file__).resolve().parent.parent


def test_the_shipped_config_loads_with_the_full_reasons_catalogue():
    config = load(ROOT / "config.toml")
    assert config.rules.timezone == "Europe/Samara" and config.rules.per_day == 2
    assert len(config.rules.reasons) == 11
    assert {r.number for r in config.rules.reasons if r.exempt} == {6, 7, 8, 9, 10, 11}
    assert config.database_url == f"sqlite:///{ROOT / 'data' / 'permits.db'}"
    assert [d.id for d in config.districts if d.enabled] == ["kinel"]


def test_no_file_means_built_in_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = load(environ={})
    assert config.rules.language == "ru" and len(config.rules.reasons) == 11


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"permits": {"per_day": "two"}}, "[permits] per_day: expected a whole number >= 1"),
        ({"permits": {"per_day": 0}}, "[permits] per_day"),
        ({"permits": {"per_day": True}}, "[permits] per_day"),
        ({"permits": {"perday": 2}}, "unknown key 'perday'"),
        ({"service": {"language": "de"}}, '[service] language: expected "ru" or "en"'),
        ({"service": {"timezone": "Mars/Olympus"}}, "[service] timezone"),
        ({"permits": {"registration": "anyone"}}, "[permits] registration"),
        ({"web": {"port": 70000}}, "[web] port"),
        ({"smtp": {}}, "unknown section [smtp]"),
        ({"districts": [{"id": "Kinel City", "name": "x"}]}, "[[districts]] #1 id"),
        ({"districts": [{"id": "a", "name": "A"}, {"id": "a", "name": "B"}]}, "unique"),
        ({"reasons": [{"number": 1}]}, "missing key 'name'"),
        ({"reasons": {"number": 1}}, "expected an array of tables"),
        ({"smpp": [{"name": "op", "host": "h"}]}, "missing key 'system_id'"),
        ({"ussd": {"service_code": "377"}}, "[ussd] service_code"),
        ({"pipeline": {"retry_max_seconds": 0}}, "[pipeline] retry_max_seconds: expected"),
        ({"pipeline": {"reroute_after_seconds": -1}}, "[pipeline] reroute_after_seconds"),
        ({"pipeline": {"fallback_to_modem": "yes"}}, "[pipeline] fallback_to_modem"),
    ],
)
def test_mistakes_name_the_key_and_what_is_allowed(data, message):
    with pytest.raises(ConfigError) as error:
        from_dict(data, base=ROOT)
    assert message in str(error.value)


def test_outage_settings_default_to_a_minute_of_backoff_and_thirty_seconds_before_moving():
    pipeline = load(ROOT / "config.toml").pipeline
    assert (pipeline.retry_max_seconds, pipeline.reroute_after_seconds) == (60.0, 30.0)
    assert pipeline.fallback_to_modem is False
    tuned = from_dict({"pipeline": {"retry_max_seconds": 120, "reroute_after_seconds": 90,
                                    "fallback_to_modem": True}}, base=ROOT).pipeline
    assert (tuned.retry_max_seconds, tuned.reroute_after_seconds) == (120.0, 90.0)
    assert tuned.fallback_to_modem is True


def test_broken_toml_is_reported_with_the_file(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text("[permits\nper_day = 2\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load(path)


def test_secrets_come_from_the_environment(monkeypatch):
    data = {"web": {"secret_key": "${GATEWAY_SECRET}"}}
    monkeypatch.setenv("GATEWAY_SECRET", "s3cret")
    assert from_dict(data, ROOT).web.secret_key == "s3cret"
    monkeypatch.delenv("GATEWAY_SECRET")
    with pytest.raises(ConfigError, match="GATEWAY_SECRET is not set"):
        from_dict(data, ROOT)


def test_the_database_url_can_come_from_the_environment():
    config = from_dict({}, ROOT, environ={"PERMIT_GATEWAY_DATABASE_URL": "postgresql://x/y"})
    assert config.database_url == "postgresql://x/y"


def test_configured_reasons_replace_defaults_by_number_and_the_rest_stay():
    config = from_dict(
        {
            "reasons": [
                {"number": 1, "name": "продукты", "keywords": ["еда"], "validity_minutes": 90},
                {"number": 12, "name": "дача", "exempt": False},
            ]
        },
        ROOT,
    )
    reasons = {r.number: r for r in config.rules.reasons}
    assert reasons[1].name_ru == "продукты" and reasons[1].keywords == ("еда",)
    assert reasons[1].name_en == "shop" and reasons[1].validity_minutes == 90
    assert reasons[12].keywords == ("дача",) and reasons[2].name_ru == "аптека"


def test_open_registration_needs_a_district_for_newcomers():
    with pytest.raises(ConfigError, match="open_district"):
        from_dict({"permits": {"registration": "open"}}, ROOT)
    config = from_dict({"permits": {"registration": "open", "open_district": "kinel"},
                        "districts": [{"id": "kinel", "name": "Кинель", "enabled": True}]}, ROOT)
    assert config.rules.open_district == "kinel"
