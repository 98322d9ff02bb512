"""From a free-form SMS to one request. Never raises: what it cannot read is `Unrecognized`."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from permits import codes
from permits.reasons import Reason
from permits.text import fold, has_cyrillic, similar


@dataclass(frozen=True)
class ExitRequest:
    reason: Reason | None
    unknown_number: int | None = None


@dataclass(frozen=True)
class HelpRequest:
    pass


@dataclass(frozen=True)
class StatusRequest:
    pass


@dataclass(frozen=True)
class CheckRequest:
    typed: str
    explicit: bool = True  # False: a bare code-shaped text, with no CHECK word before it


@dataclass(frozen=True)
class QuestionRequest:
    """"Можно выйти в аптеку?": answered with what applies, or the exact request to send.
    `script` is how the resident writes: "cyrillic", "latin" (Russian in Latin letters) or
    "english"."""

    reason: Reason
    script: str


@dataclass(frozen=True)
class RegisterRequest:
    """`РЕГ Иванов Кинель`: the words after the command, as typed (a surname and a district,
    in either order; the rules tell them apart by the districts they know)."""

    words: tuple[str, ...]


@dataclass(frozen=True)
class AnswerRequest:
    """ДА / НЕТ (YES / NO): the answer to what the service asked the number last."""

    yes: bool


@dataclass(frozen=True)
class StopRequest:
    """СТОП / STOP: a resident asks to leave the registry."""


@dataclass(frozen=True)
class Unrecognized:
    pass


Request = (ExitRequest | HelpRequest | StatusRequest | CheckRequest | QuestionRequest
           | RegisterRequest | AnswerRequest | StopRequest | Unrecognized)


@dataclass(frozen=True)
class Parsed:
    request: Request
    english: bool


_COMMANDS: dict[str, tuple[str, ...]] = {
    "exit": ("exit", "выход", "выйти", "выхожу", "пропуск", "permit", "pass", "vyhod", "vyyti"),
    "help": ("help", "помощь", "справка", "инфо", "info", "menu", "меню", "pomosh", "spravka"),
    "status": ("status", "статус", "остаток"),
    "check": ("check", "проверка", "проверить", "verify", "proverka"),
    "register": ("рег", "reg", "регистрация", "register", "registration", "registraciya"),
    "stop": ("стоп", "stop"),
    "yes": ("да", "yes", "согласен", "согласна", "soglasen"),
    "no": ("нет", "no"),
}
_ENGLISH = {"exit", "permit", "pass", "help", "info", "menu", "status", "check", "verify",
            "register", "registration", "stop", "yes", "no"}
# A question about going out has one of these words ("Можно выйти в аптеку?"); one without
# ("Где ближайшая аптека?", "Магазин работает?") is conversation.
_GOING_OUT = ("можно", "разрешено", "нужен", "нужно", "надо", "выйти", "пойти", "сходить",
              "идти", "поехать", "выходить", "can", "may", "go", "need", "allowed")
# A question in Latin letters that opens with one of these is in English (a reply in English).
_ENGLISH_QUESTION_WORDS = {"can", "may", "could", "should", "do", "is", "where", "how"}
_STOPWORDS = {fold(w)[0] for w in ("в", "на", "за", "к", "до", "с", "для", "мне", "по", "и",
                                   "to", "for", "the", "a", "my", "please", "пожалуйста")}


_FOLDED_COMMANDS = {c: tuple(fold(w)[0] for w in ws) for c, ws in _COMMANDS.items()}
# What the parser reads of a message: one SMS's worth. A request is a command and a reason;
# the rest of a long text is courtesy, and matching it against every reason's phrases cost
# about 20 ms per KB inside the dispatcher's write transaction (a 60 KB text: over a second).
PARSED_PREFIX = 160
# Texts up to this long are cached (floods repeat a handful of short ones), so the cache holds
# at most _CACHE_ENTRIES keys of this length: a few MB, whatever arrives.
_CACHED_LENGTH = 64
_CACHE_ENTRIES = 20_000
# A number names a reason only in a text whose letters are Latin or Cyrillic, written in
# ASCII digits and without a sign: "2" in a Chinese sentence, a Myanmar digit or "-1" do not.
_FOREIGN_LETTER = re.compile(r"(?![A-Za-z\u00c0-\u024f\u1e00-\u1eff\u0400-\u052f])[^\W\d_]")
_FOREIGN_DIGIT = re.compile(r"(?![0-9])\d")
_SIGNED_NUMBER = re.compile(r"(?<!\w)[-+\u2212]\s*\d")


def _command_of(token: str) -> str | None:
    for command, keywords in _FOLDED_COMMANDS.items():
        if any(similar(token, keyword) for keyword in keywords):
            return command
    return None


class ReasonMatcher:
    """Finds the reason a message names, preferring the longest matching phrase."""

    def __init__(self, reasons: tuple[Reason, ...]) -> None:
        self._by_number = {r.number: r for r in reasons}
        phrases = []
        for reason in reasons:
            for keyword in (*reason.keywords, reason.name_ru, reason.name_en):
                words = tuple(t for t in fold(keyword) if t not in _STOPWORDS)
                if words:
                    phrases.append((words, reason))
        self._phrases = sorted(phrases, key=lambda p: -sum(map(len, p[0])))

    def by_number(self, number: int) -> Reason | None:
        return self._by_number.get(number)

    def match(self, tokens: list[str]) -> Reason | None:
        words = [t for t in tokens if t not in _STOPWORDS and not t.isdigit()]
        for phrase, reason in self._phrases:
            if _contains(words, phrase):
                return reason
        return None


def _contains(words: list[str], phrase: tuple[str, ...]) -> bool:
    n = len(phrase)
    return any(
        all(similar(words[i + k], phrase[k]) for k in range(n))
        for i in range(len(words) - n + 1)
    )


class Parser:
    """Reads the requests residents and officers send; built once per reasons catalogue."""

    def __init__(self, reasons: tuple[Reason, ...]) -> None:
        self._reasons = ReasonMatcher(reasons)
        # Floods repeat a handful of texts ("ВЫХОД магазин"): parse each once.
        self._cached = functools.lru_cache(maxsize=_CACHE_ENTRIES)(self._parse)
        self.cache_info = self._cached.cache_info

    def parse(self, text: str) -> Parsed:
        """The request in the first `PARSED_PREFIX` characters of `text`, ending as the whole
        text ends when that is a question mark: a question longer than one SMS is still a
        question (read as a request, "можно выйти в аптеку ...?" spent a permit)."""
        prefix = text[:PARSED_PREFIX]
        if len(text) > PARSED_PREFIX and text.rstrip().endswith("?"):
            prefix = prefix.rstrip() + "?"
        return self._cached(prefix) if len(prefix) <= _CACHED_LENGTH else self._parse(prefix)

    def _parse(self, text: str) -> Parsed:
        tokens = fold(text)
        command = _command_of(tokens[0]) if tokens and not tokens[0].isdigit() else None
        english = self._english(text, command)
        rest = tokens[1:] if command else tokens
        if command == "check":
            return Parsed(CheckRequest(_after_first_word(text)), english)
        if command == "status":
            return Parsed(StatusRequest(), english)
        if command == "register":
            return Parsed(RegisterRequest(_words_after_first(text)), english)
        if command == "stop":
            return Parsed(StopRequest(), english)
        named = self._reasons.match(rest)
        if command in ("yes", "no") and named is None:
            return Parsed(AnswerRequest(command == "yes"), english)
        if command in ("yes", "no"):  # "да, в магазин": the reason is what counts
            command, rest = None, tokens
        if command is None and _is_question(text, tokens) and named:
            return Parsed(QuestionRequest(named, _script(text, tokens)),
                          _script(text, tokens) == "english")
        if command is None and _not_a_request(text, tokens):
            return Parsed(Unrecognized(), english)
        if command is None and named is None and codes.looks_like_code(text):
            return Parsed(CheckRequest(text.strip(), explicit=False), english)
        numbered = (self._numbered(rest if command or len(rest) == 1 else [])
                    if _numbers_name_reasons(text) else None)
        if named:
            return Parsed(ExitRequest(named), english)
        if command == "exit" or (numbered and numbered.reason):
            return Parsed(numbered or ExitRequest(None), english)
        if command == "help":
            return Parsed(HelpRequest(), english)
        return Parsed(Unrecognized(), english)

    def _numbered(self, tokens: list[str]) -> ExitRequest | None:
        """A reason given by its number: the first word after the command, or the whole
        message ("Приду через 2 часа" is not a request for reason 2)."""
        if not tokens or not tokens[0].isdigit() or len(tokens[0]) > 3:
            return None
        number = int(tokens[0])
        reason = self._reasons.by_number(number)
        return ExitRequest(reason, None if reason else number)

    @staticmethod
    def _english(text: str, command: str | None) -> bool:
        if has_cyrillic(text):
            return False
        first = text.strip().split(maxsplit=1)[0].lower() if text.strip() else ""
        return command is not None and first.strip("*#.,!:") in _ENGLISH


_NEGATIONS = {fold(w)[0] for w in ("не", "нет", "not", "dont", "no")}


def _numbers_name_reasons(text: str) -> bool:
    return not (_FOREIGN_LETTER.search(text) or _FOREIGN_DIGIT.search(text)
                or _SIGNED_NUMBER.search(text))


_FOLDED_ENGLISH_QUESTION_WORDS = {fold(w)[0] for w in _ENGLISH_QUESTION_WORDS}
_WORDS = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")


_FOLDED_GOING_OUT = tuple(fold(w)[0] for w in _GOING_OUT)


def _is_question(text: str, tokens: list[str]) -> bool:
    """A question about going out, without a negation: "Можно выйти в аптеку?" ("Можно в
    магазин" without the question mark has always been a request, and still is)."""
    return (text.rstrip().endswith("?") and not any(t in _NEGATIONS for t in tokens)
            and any(similar(t, word) for t in tokens for word in _FOLDED_GOING_OUT))


def _script(text: str, tokens: list[str]) -> str:
    if has_cyrillic(text):
        return "cyrillic"
    return "english" if tokens and tokens[0] in _FOLDED_ENGLISH_QUESTION_WORDS else "latin"


def _words_after_first(text: str) -> tuple[str, ...]:
    """The words (letters, inner hyphens and apostrophes) after the command word."""
    parts = text.replace("*", " ").replace("#", " ").strip().split(maxsplit=1)
    return tuple(_WORDS.findall(parts[1])) if len(parts) > 1 else ()


def _not_a_request(text: str, tokens: list[str]) -> bool:
    """Without a command word, a question or a negation is conversation, not a request:
    "Где ближайшая аптека?", "Не пойду в магазин"."""
    return text.rstrip().endswith("?") or any(t in _NEGATIONS for t in tokens)


def _after_first_word(text: str) -> str:
    parts = text.replace("*", " ").replace("#", " ").strip().split(maxsplit=1)
    return parts[1] if len(parts) > 1 else ""
