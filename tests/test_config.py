"""Configuration: the shipped default works; every mistake names its key and what is allowed."""

from __future__ import annotations

import re
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
        ({"web": {"language": "de"}}, '[web] language: expected "ru" or "en"'),
        ({"service": {"sms_number": "call us"}}, "[service] sms_number"),
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


def test_secrets_come_from_the_environment_the_loader_is_given(monkeypatch):
    """The deployment kit's tests load deploy/config.toml with env.example's variables."""
    monkeypatch.delenv("USSD_TOKEN", raising=False)
    config = from_dict({"ussd": {"token": "${USSD_TOKEN}"}}, ROOT, environ={"USSD_TOKEN": "t"})
    assert config.ussd.token == "t"


def test_relative_paths_are_next_to_the_config_file_even_under_systemd(tmp_path):
    """One rule whoever runs the command: systemd's $STATE_DIRECTORY does not move the ledger
    (an operator's shell has no such variable, and would open another ledger)."""
    path = tmp_path / "etc" / "config.toml"
    path.parent.mkdir()
    path.write_text('[database]\nurl = "sqlite:///data/permits.db"\n')
    for environ in ({}, {"STATE_DIRECTORY": str(tmp_path / "state")}):
        config = load(path, environ=environ)
        assert config.database_url == f"sqlite:///{tmp_path / 'etc' / 'data' / 'permits.db'}"
        assert config.data_dir == tmp_path / "etc" / "data"


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


def test_a_mistake_in_a_file_names_the_file_the_table_and_the_key(tmp_path):
    path = tmp_path / "gateway.toml"
    path.write_text('[[smpp]]\nname = "op"\nhost = "h"\nsystem_id = "gw"\nwindow = 0\n')
    with pytest.raises(ConfigError) as error:
        load(path)
    assert str(error.value).startswith(f"{path}: [[smpp]] #1 window: expected a whole number")


@pytest.mark.parametrize(("table", "row", "message"), [
    ("modems", {"name": "m", "port": "/dev/x", "poll_seconds": 0}, "poll_seconds"),
    ("modems", {"name": "m", "port": "/dev/x", "reconnect_min_seconds": 9,
                "reconnect_max_seconds": 1}, "reconnect_max_seconds: below"),
    ("modems", {"name": "m", "port": "/dev/x", "speed": 9600}, "unknown key 'speed'"),
    ("smpp", {"name": "op", "host": "h", "system_id": "x" * 16}, "system_id: expected ASCII"),
    ("smpp", {"name": "op", "host": "h", "system_id": "gw", "bind_mode": "receiver"},
     "bind_mode"),
])
def test_modems_and_smpp_links_are_checked_like_every_other_section(table, row, message):
    with pytest.raises(ConfigError, match=re.escape(f"[[{table}]] #1")) as error:
        from_dict({table: [row]}, ROOT)
    assert message in str(error.value)


def test_modems_and_smpp_links_are_typed_settings():
    config = from_dict({"modems": [{"name": "m", "port": "dev/modem0"}],
                        "smpp": [{"name": "op", "host": "h", "system_id": "gw", "window": 5}]},
                       ROOT)
    assert config.modems[0].port == str(ROOT / "dev" / "modem0") and config.modems[0].pin == ""
    assert config.smpp[0].window == 5 and config.ussd.service_code == "*377#"


def test_the_console_speaks_the_service_language_unless_told_otherwise():
    assert from_dict({}, base=ROOT).web.language == "ru"
    assert from_dict({"service": {"language": "en"}}, base=ROOT).web.language == "en"
    assert from_dict({"service": {"language": "en"}, "web": {"language": "ru"}},
                     base=ROOT).web.language == "ru"


def test_the_number_to_text_is_configured_or_the_smpp_source_address():
    smpp = [{"name": "op", "host": "h", "system_id": "s", "source_addr": "0377"}]
    assert from_dict({}, base=ROOT).sms_number == ""
    assert from_dict({"smpp": smpp}, base=ROOT).sms_number == "0377"
    assert from_dict({"smpp": smpp, "service": {"sms_number": "+79270000377"}},
                     base=ROOT).sms_number == "+79270000377"


def test_a_district_has_its_name_in_each_language():
    config = from_dict({"districts": [{"id": "kinel", "name": "Кинель", "name_en": "Kinel"},
                                      {"id": "samara", "name": "Самара"}]}, base=ROOT)
    kinel, samara = config.districts
    assert (kinel.display_name("ru"), kinel.display_name("en")) == ("Кинель", "Kinel")
    assert samara.display_name("en") == "Самара"  # no English name configured
