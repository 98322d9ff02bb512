"""The console in Russian and English: every string translated, the compiled catalogues current,
each operator's choice remembered, and no page that mixes the two languages."""

from __future__ import annotations

import html
import io
import re

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from sqlalchemy import select

from storage.tables.console import operators
from storage.tables.ledger import residents
from tests.conftest import NEIGHBOUR, OFFICER, RESIDENT, ROOT, STRANGER
from tests.web_support import Console, report_link, run_pipeline, send_replies

pytest_plugins = ["tests.web_support"]  # the console fixtures
TRANSLATIONS = ROOT / "sms_gateway" / "web" / "translations"
PLACEHOLDER = re.compile(r"%\(\w+\)s")


def _extracted() -> dict[str | tuple[str, ...], str]:
    """Every msgid in the web package, found as `scripts/translations.sh` finds them."""
    with open(ROOT / "babel.cfg", encoding="utf-8") as config:
        method_map, options_map = parse_mapping_cfg(config)
    found = {}
    for filename, _line, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map, options_map, keywords=DEFAULT_KEYWORDS):
        found[message] = filename
    return found


def _catalogue(language: str):
    with open(TRANSLATIONS / language / "LC_MESSAGES" / "messages.po", "rb") as po:
        return read_po(po, locale=language)


def test_every_string_of_the_console_has_its_russian():
    catalogue = _catalogue("ru")
    extracted = _extracted()
    assert len(extracted) > 250  # the extraction found the templates and the Python sources
    missing, untranslated = [], []
    for msgid, filename in extracted.items():
        key = _singular(msgid)
        message = catalogue.get(key)
        if message is None:
            missing.append((filename, msgid))
            continue
        forms = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy or not all(forms) or len(forms) != (
                catalogue.num_plurals if message.pluralizable else 1):
            untranslated.append(msgid)
        for form in forms:
            assert set(PLACEHOLDER.findall(form)) == set(PLACEHOLDER.findall(key)), msgid
    assert missing == [], "run scripts/translations.sh and translate the new strings"
    assert untranslated == []
    used = {_singular(msgid) for msgid in extracted}
    stale = [m.id for m in catalogue if m.id and _singular(m.id) not in used]
    assert stale == [], "strings no longer used: run scripts/translations.sh"


def _singular(msgid: str | tuple[str, ...]) -> str:
    return msgid[0] if isinstance(msgid, tuple) else msgid


def test_the_compiled_catalogues_are_the_current_ones():
    catalogues = sorted(TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"))
    assert [po.parent.parent.name for po in catalogues] == ["ru"]  # English is the source
    for po in catalogues:
        with open(po, "rb") as source:
            catalogue = read_po(source)
        compiled = io.BytesIO()
        write_mo(compiled, catalogue)
        assert po.with_suffix(".mo").read_bytes() == compiled.getvalue(), (
            f"{po.with_suffix('.mo')} is stale: run scripts/translations.sh")


@pytest.fixture
def console_language() -> str:
    return "ru"


@pytest.fixture
def busy(console, engine, rules, clock, people):
    """A console with something on every page: traffic, links, a permit, an audit trail."""
    run_pipeline(engine, rules, clock, [(RESIDENT, "ВЫХОД 1"), (STRANGER, "ВЫХОД 1"),
                                        (OFFICER, "ПРОВЕРКА AAAA-AAAA")])
    send_replies(engine, clock, fail=1)
    report_link(engine, clock())
    report_link(engine, clock(), channel="smpp:mts", kind="smpp", up=False,
                details={"bind_state": "transceiver:closed", "window": 10})
    return console


def _pages(console, engine) -> dict[str, str]:
    with engine.connect() as conn:
        ids = dict(conn.execute(select(residents.c.phone, residents.c.id)).all())
    from storage.tables.ledger import permits

    with engine.connect() as conn:
        code = conn.scalar(select(permits.c.code))
    rid = ids[RESIDENT]
    urls = ["/", "/residents", f"/residents/{rid}", f"/residents/{ids[NEIGHBOUR]}/remove",
            "/residents?show=removed", "/permits", f"/permits/{code}/revoke",
            f"/permits/{code}/print", "/officers", "/districts", "/districts/kinel?enabled=0",
            "/audit", "/quarantine", "/no/such/page", "/residents?q=" + "x" * 200,
            "/regimes", "/registrations", "/reports", "/residents?temporary=1"]
    pages = {url: console.get(url).text for url in urls}
    pages["issue"] = console.post(f"/residents/{rid}/issue", {"reason": "6"}).text
    pages["import"] = console.post("/residents/import", {"file": (io.BytesIO(
        b"phone,name,district\nx,y,kinel\n+79270000011,A,nowhere\n"), "p.csv")},
        content_type="multipart/form-data").text
    return pages


def _words(page: str) -> str:
    """What a reader sees: text and the words in attributes a browser shows."""
    shown = re.findall(r'(?:placeholder|title|aria-label)="([^"]*)"', page)
    page = re.sub(r"<(script|style|title)[^>]*>.*?</\1>", " ", page, flags=re.S)
    return html.unescape(" ".join([re.sub(r"<[^>]+>", " ", page), *shown]))


# Words that are the same in a Russian page: names of things, codes, units, data.
LATIN_ALLOWED = {"SMS", "USSD", "SIM", "CSV", "UTF", "MB", "Ctrl", "P", "A", "English",
                 "anna", "kinel", "samara", "modem", "sim0", "smpp", "mts", "node", "a",
                 "transceiver", "closed", "enquire_link", "phone", "name", "district",
                 "document", "permit", "gateway", "residents", "import", "CMS", "ERROR",
                 "registry", "removed", "csrf_token", "yes", "K7MQ", "DXA", "p", "csv", "x",
                 "y", "nowhere", "Smirnova", "sim", "Petrov", "Petr", "until", "permits",
                 "registration_approval", "false"}


def test_no_russian_page_shows_english_words(busy, engine):
    for url, page in _pages(busy, engine).items():
        assert '<html lang="ru">' in page, url
        seen = re.sub(r"\b[2-9A-Z]{4}-?[2-9A-Z]{4}\b", " ", _words(page))  # permit codes
        assert set(re.findall(r"[A-Za-z][A-Za-z_]*", seen)) - LATIN_ALLOWED == set(), url


@pytest.mark.parametrize("console_language", ["en"])
def test_no_english_page_shows_russian_words(busy, engine):
    data = {"Иванов Иван Иванович", "Кинель", "Самара", "Сержант Петров", "Petrov Petr",
            "Сидорова Анна", "Русский"}  # the language switch names each in itself
    for url, page in _pages(busy, engine).items():
        seen = _words(page)
        for item in data:
            seen = seen.replace(item, " ")
        if url.endswith("/print"):  # the paper is in the service's language unless asked
            assert '<html lang="ru">' in page
            continue
        assert '<html lang="en">' in page, url
        assert re.findall(r"[А-Яа-яЁё]+", seen) == [], url


def test_an_operators_choice_of_language_is_remembered(busy, app, engine):
    assert '<html lang="ru">' in busy.get("/").text
    response = busy.post("/language", {"language": "en", "next": "/residents"})
    assert response.status_code == 302 and response.headers["Location"] == "/residents"
    assert "Name, phone or district" in busy.get("/residents").text
    with engine.connect() as conn:
        assert conn.scalar(select(operators.c.language)) == "en"
    elsewhere = Console(app.test_client())  # another browser, a later day
    assert '<html lang="ru">' in elsewhere.get("/login").text
    elsewhere.login()
    assert '<html lang="en">' in elsewhere.get("/").text
    assert busy.post("/language", {"language": "de"}).status_code == 400
    assert busy.post("/language", {"language": "ru", "next": "https://evil.example"}
                     ).headers["Location"] == "/"


def test_the_login_page_can_be_switched_before_logging_in(anonymous, operator):
    assert "Войти" in anonymous.get("/login").text
    anonymous.post("/language", {"language": "en", "next": "/login"})
    assert "Log in" in anonymous.get("/login").text and "Войти" not in anonymous.get(
        "/login").text


def test_dates_and_numbers_follow_the_locale(busy, engine, rules, clock, app):
    from permits import registry

    rows = "".join(f"+792755{i:05d},Житель {i},kinel\n" for i in range(1234))
    with engine.begin() as conn:
        registry.import_residents(conn, io.StringIO("phone,name,district\n" + rows), "RU",
                                  clock())
    run_pipeline(engine, rules, clock, [(f"+792755{i:05d}", "ВЫХОД 1") for i in range(1234)])
    russian = busy.get("/").text
    assert "1\xa0235 пропусков выдано" in russian  # and the resident of the busy fixture
    assert "25 ноября 2026\u202fг." in russian
    busy.post("/language", {"language": "en"})
    english = busy.get("/").text
    assert "1,235 issued" in english and "November 25, 2026" in english

