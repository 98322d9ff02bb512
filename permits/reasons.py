"""The reasons catalogue: what a resident may go out for, and which trips need no permit."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Reason:
    """One reason; `name` is per language, `keywords` in Russian, English and translit."""

    number: int
    name_ru: str
    name_en: str
    keywords: tuple[str, ...]
    exempt: bool = False
    validity_minutes: int | None = None

    def name(self, language: str) -> str:
        return self.name_ru if language == "ru" else self.name_en


DEFAULT_REASONS: tuple[Reason, ...] = (
    Reason(1, "магазин", "shop",
           ("магазин", "продукты", "покупки", "shop", "shopping", "groceries", "food",
            "magazin", "produkty", "pokupki")),
    Reason(2, "аптека", "pharmacy",
           ("аптека", "лекарства", "pharmacy", "medicine", "drugstore", "apteka", "lekarstva")),
    Reason(3, "выгул собаки", "dog walk",
           ("собака", "выгул", "пёс", "dog", "walk dog", "sobaka", "vygul")),
    Reason(4, "банк, почта", "bank, post",
           ("банк", "почта", "bank", "post", "post office", "pochta")),
    Reason(5, "другое", "other",
           ("другое", "прочее", "other", "drugoe")),
    Reason(6, "скорая помощь", "emergency",
           ("скорая", "врач", "больница", "emergency", "doctor", "hospital", "ambulance",
            "skoraya", "vrach", "bolnica"),
           exempt=True),
    Reason(7, "работа", "work",
           ("работа", "на работу", "work", "job", "rabota"),
           exempt=True),
    Reason(8, "ближайший магазин", "nearest shop",
           ("ближайший магазин", "nearest shop", "blizhayshiy magazin", "blizhaishii magazin"),
           exempt=True),
    Reason(9, "питомец до 100 м", "pet within 100 m",
           ("питомец рядом", "питомец", "pet", "pet nearby", "pitomec"),
           exempt=True),
    Reason(10, "вынос мусора", "rubbish",
           ("мусор", "вынести мусор", "trash", "rubbish", "garbage", "musor"),
           exempt=True),
    Reason(11, "помощь пожилым", "elderly relatives",
           ("пожилым родственникам", "пожилым", "родственникам", "бабушке", "дедушке",
            "elderly", "relatives", "pozhilym", "babushke"),
           exempt=True),
)
