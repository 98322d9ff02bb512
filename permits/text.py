"""Folding free text into comparable tokens: case, look-alike letters, Cyrillic vs Latin.

Both the message and the keywords go through `fold`, so "ВЫХОД", "выxод" (Latin x), "vyhod",
"vykhod" and "vihod" all become the same token.
"""

from __future__ import annotations

import re

# Latin letters that look like Cyrillic ones, fixed only inside words that contain Cyrillic.
_LOOKALIKE_TO_CYRILLIC = str.maketrans(
    "ABCEHKMOPTXYaceopxykmt", "АВСЕНКМОРТХУасеорхукмт"
)
_TRANSLIT = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh", "з": "z",
    "и": "i", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r",
    "с": "s", "т": "t", "у": "u", "ф": "f", "х": "h", "ц": "c", "ч": "ch", "ш": "sh",
    "щ": "sh", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu", "я": "ya",
}
_TRANSLIT_TABLE = str.maketrans(_TRANSLIT)
# Spellings people use for the same Russian sound when typing in Latin letters.
_CANON = (("shch", "sh"), ("sch", "sh"), ("kh", "h"), ("x", "h"), ("w", "v"), ("j", "y"),
          ("ph", "f"), ("ck", "k"), ("q", "k"), ("i", "y"), ("ts", "c"))
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_WORD = re.compile(r"[^\W\d_]+|\d+")
_TOKEN = re.compile(r"[a-z]+|\d+")
_DOUBLES = re.compile(r"([a-z])\1+")


def has_cyrillic(text: str) -> bool:
    return _CYRILLIC.search(text) is not None


def _fix_word(word: str) -> str:
    if has_cyrillic(word):
        word = word.translate(_LOOKALIKE_TO_CYRILLIC)
    return word.lower().translate(_TRANSLIT_TABLE)


def transliterate(text: str) -> str:
    """Russian words in Latin letters as people type them (`аптека` -> `apteka`)."""
    return " ".join(_fix_word(w) for w in _WORD.findall(text))


def canon(word: str) -> str:
    """One spelling for the many ways a transliterated word is typed."""
    for old, new in _CANON:
        word = word.replace(old, new)
    return _DOUBLES.sub(r"\1", word)


def fold(text: str) -> list[str]:
    """Tokens of `text` in canonical Latin: words and numbers, punctuation dropped."""
    latin = " ".join(_fix_word(w) for w in _WORD.findall(text))
    return [canon(t) if t[0].isalpha() else t for t in _TOKEN.findall(latin)]


def within_one_edit(a: str, b: str) -> bool:
    """True when one insertion, deletion or substitution (or none) turns a into b."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    if la > lb:
        a, b, la, lb = b, a, lb, la
    i = 0
    while i < la and a[i] == b[i]:
        i += 1
    if la == lb:
        return a[i + 1:] == b[i + 1:] or (
            i + 1 < la and a[i] == b[i + 1] and a[i + 1] == b[i] and a[i + 2:] == b[i + 2:]
        )
    return a[i:] == b[i + 1:]


def similar(word: str, keyword: str) -> bool:
    """Lenient equality: inflected endings, one typo, or a swap of neighbours.

    Short keywords forgive less: four letters allow only a dropped letter or a swap."""
    if word == keyword:
        return True
    if len(keyword) < 4:
        return False
    stem = keyword[: max(4, len(keyword) - 2)]
    if word.startswith(stem) and len(word) - len(keyword) <= 3:
        return True
    if len(keyword) == 4 and len(word) == 4 and sorted(word) != sorted(keyword):
        return False
    return len(word) >= 3 and within_one_edit(word, keyword)
