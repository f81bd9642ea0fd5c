# ruff: noqa: RUF001 - Russian text is data here, not a confusable identifier
"""Deterministic, streaming generator of fictitious Bitrix-shaped raw tables.

Why it exists: the dbt project has to be built, tested and benchmarked on data that looks like a
real 1C-Bitrix database after replication -- the same table and column names, the same code lists
and the same dirt (free-text phones, mixed-case e-mails, technical users, placeholder values,
replica duplicates) -- without touching anybody's personal data. Every name, e-mail and phone
produced here is synthetic.

Design notes (the "why" behind the shape of the code):

* Column lists are hard-coded in :data:`TABLE_COLUMNS`; a unit test keeps them identical to
  ``models/staging/bitrix/_bitrix__sources.yml``, so the package needs no dbt files at runtime.
* Persons are generated in chunks of :data:`CHUNK_PERSONS`. Each chunk has its own RNG seeded
  from ``(seed, chunk number)`` and rows go to small per-table buffers that are flushed to
  already-open writers, so memory stays bounded whatever ``customers`` is.
* Only ``random.Random.random`` and ``getrandbits`` are used: their streams are stable across
  Python versions, so the same arguments give byte-identical files.
* IDs come from per-table counters, like MySQL auto-increment columns.
* Omitted tables are still generated and discarded, so omitting one never changes the others.
* ``_truth_persons.csv`` records which generated person owns each record of the record tables;
  identity-resolution tests compare their clusters with it. Person ids: ``P<n>`` customers,
  ``E<n>`` employees, ``T<n>`` technical users (saleanonymous, imconnector, bot).
"""

from __future__ import annotations

import bisect
import contextlib
import datetime as dt
import functools
import gc
import itertools
import os
import random
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "CHUNK_PERSONS",
    "DEFAULT_DAYS",
    "DEFAULT_START",
    "FORMATS",
    "RECORD_TABLES",
    "SERVER_TZ",
    "TABLE_COLUMNS",
    "TRUTH_COLUMNS",
    "TRUTH_FILE",
    "activity_end",
    "generate",
]

SERVER_TZ = "Europe/Moscow"
"""Bitrix writes datetimes in the server's local zone; the demo shop runs in Moscow."""

DEFAULT_START = dt.date(2024, 1, 1)
DEFAULT_DAYS = 365
CHUNK_PERSONS = 10_000
"""Persons per RNG chunk. Part of the determinism contract: changing it changes the output."""

FORMATS = ("csv", "parquet")


def _follow_up_days(days: int) -> int:
    """The days at the end of the window that hold only follow-ups of earlier stories."""
    return min(3, max(1, days // 10))


def activity_end(start: dt.date, days: int) -> dt.datetime:
    """The end of the shop's steady activity in a generated window (server-local time).

    Customer stories (visits, carts, orders, CRM leads and activities) happen before it; the
    last one to three days of the window hold only their follow-ups (late logins, deals
    closed, an activity or two), and no orders. A benchmark's "typical hour" ends here, not
    at the end of the window.
    """
    return dt.datetime.combine(start + dt.timedelta(days=days - _follow_up_days(days)), dt.time())


TRUTH_FILE = "_truth_persons.csv"
TRUTH_COLUMNS = ("source_table", "source_id", "person_id")
RECORD_TABLES = ("b_user", "b_sale_fuser", "b_sale_order", "b_crm_contact", "b_crm_lead")
"""Tables whose every row belongs to one person in the ground-truth file."""

TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "b_user": (
        "ID", "TIMESTAMP_X", "LOGIN", "ACTIVE", "NAME", "LAST_NAME", "SECOND_NAME", "EMAIL",
        "PERSONAL_PHONE", "PERSONAL_MOBILE", "WORK_PHONE", "DATE_REGISTER", "LAST_LOGIN",
        "LAST_ACTIVITY_DATE", "LID", "EXTERNAL_AUTH_ID", "XML_ID", "PERSONAL_BIRTHDAY",
        "PERSONAL_GENDER", "PERSONAL_CITY", "BX_USER_ID",
    ),
    "b_uts_user": (
        "VALUE_ID", "UF_UTM_SOURCE", "UF_UTM_MEDIUM", "UF_UTM_CAMPAIGN", "UF_UTM_CONTENT",
        "UF_UTM_TERM",
    ),
    "b_sale_fuser": ("ID", "DATE_INSERT", "DATE_UPDATE", "USER_ID", "CODE"),
    "b_sale_order": (
        "ID", "ACCOUNT_NUMBER", "LID", "USER_ID", "PERSON_TYPE_ID", "STATUS_ID", "DATE_INSERT",
        "DATE_UPDATE", "DATE_STATUS", "PRICE", "PRICE_DELIVERY", "DISCOUNT_VALUE", "TAX_VALUE",
        "SUM_PAID", "CURRENCY", "PAYED", "DATE_PAYED", "CANCELED", "DATE_CANCELED",
        "REASON_CANCELED", "PAY_SYSTEM_ID", "DELIVERY_ID", "XML_ID", "STAT_GID", "BX_USER_ID",
        "EXTERNAL_ORDER",
    ),
    "b_sale_order_props": (
        "ID", "PERSON_TYPE_ID", "NAME", "CODE", "TYPE", "ACTIVE", "IS_EMAIL", "IS_PHONE",
        "IS_PAYER",
    ),
    "b_sale_order_props_value": ("ID", "ORDER_ID", "ORDER_PROPS_ID", "CODE", "NAME", "VALUE"),
    "b_sale_basket": (
        "ID", "FUSER_ID", "ORDER_ID", "PRODUCT_ID", "NAME", "PRICE", "BASE_PRICE",
        "DISCOUNT_PRICE", "CURRENCY", "QUANTITY", "LID", "DELAY", "CAN_BUY", "DATE_INSERT",
        "DATE_UPDATE",
    ),
    "b_crm_contact": (
        "ID", "DATE_CREATE", "DATE_MODIFY", "CREATED_BY_ID", "MODIFY_BY_ID", "ASSIGNED_BY_ID",
        "OPENED", "NAME", "LAST_NAME", "SECOND_NAME", "FULL_NAME", "TYPE_ID", "SOURCE_ID",
        "SOURCE_DESCRIPTION", "COMPANY_ID", "LEAD_ID", "ORIGINATOR_ID", "ORIGIN_ID", "WEBFORM_ID",
        "HAS_PHONE", "HAS_EMAIL",
    ),
    "b_uts_crm_contact": ("VALUE_ID", "UF_SITE_MEMBER_ID"),
    "b_crm_lead": (
        "ID", "DATE_CREATE", "DATE_MODIFY", "ASSIGNED_BY_ID", "TITLE", "NAME", "LAST_NAME",
        "SECOND_NAME", "FULL_NAME", "STATUS_ID", "STATUS_SEMANTIC_ID", "SOURCE_ID",
        "SOURCE_DESCRIPTION", "CONTACT_ID", "COMPANY_ID", "OPPORTUNITY", "CURRENCY_ID",
        "IS_RETURN_CUSTOMER", "DATE_CLOSED", "WEBFORM_ID", "ORIGINATOR_ID", "ORIGIN_ID",
    ),
    "b_crm_deal": (
        "ID", "DATE_CREATE", "DATE_MODIFY", "ASSIGNED_BY_ID", "TITLE", "CATEGORY_ID", "STAGE_ID",
        "STAGE_SEMANTIC_ID", "CLOSED", "CONTACT_ID", "COMPANY_ID", "LEAD_ID", "OPPORTUNITY",
        "CURRENCY_ID", "TYPE_ID", "SOURCE_ID", "SOURCE_DESCRIPTION", "BEGINDATE", "CLOSEDATE",
        "IS_RETURN_CUSTOMER", "ORIGINATOR_ID", "ORIGIN_ID",
    ),
    "b_crm_field_multi": (
        "ID", "ENTITY_ID", "ELEMENT_ID", "TYPE_ID", "VALUE_TYPE", "COMPLEX_ID", "VALUE",
    ),
    "b_crm_act": (
        "ID", "TYPE_ID", "PROVIDER_ID", "PROVIDER_TYPE_ID", "OWNER_TYPE_ID", "OWNER_ID",
        "ASSOCIATED_ENTITY_ID", "SUBJECT", "DIRECTION", "COMPLETED", "STATUS", "CREATED",
        "LAST_UPDATED", "START_TIME", "END_TIME", "RESPONSIBLE_ID", "ORIGIN_ID", "ORIGINATOR_ID",
        "RESULT_STREAM",
    ),
    "b_crm_act_bind": ("ID", "ACTIVITY_ID", "OWNER_ID", "OWNER_TYPE_ID"),
    "b_crm_utm": ("ENTITY_TYPE_ID", "ENTITY_ID", "CODE", "VALUE"),
    "b_crm_status": (
        "ID", "ENTITY_ID", "STATUS_ID", "NAME", "SORT", "SYSTEM", "SEMANTICS", "CATEGORY_ID",
    ),
    "b_sender_contact": (
        "ID", "DATE_INSERT", "DATE_UPDATE", "TYPE_ID", "CODE", "NAME", "USER_ID", "BLACKLISTED",
        "IS_READ", "IS_CLICK", "IS_UNSUB",
    ),
    "b_sender_posting": (
        "ID", "MAILING_ID", "MAILING_CHAIN_ID", "STATUS", "DATE_CREATE", "DATE_SENT",
    ),
    "b_sender_posting_recipient": (
        "ID", "POSTING_ID", "CONTACT_ID", "STATUS", "DATE_SENT", "USER_ID", "IS_READ", "IS_CLICK",
        "IS_UNSUB",
    ),
    "b_sender_posting_read": ("ID", "POSTING_ID", "RECIPIENT_ID", "DATE_INSERT"),
    "b_sender_posting_click": ("ID", "POSTING_ID", "RECIPIENT_ID", "DATE_INSERT", "URL"),
    "bl_email_events": ("ID", "ESP", "EVENT_TYPE", "EMAIL", "CAMPAIGN_ID", "URL", "EVENT_TIME"),
}  # fmt: skip

Row = list[str]
"""One output row of already-rendered CSV fields; ``""`` is NULL (an empty CSV field).

Why pre-rendered strings rather than Python values: joining them is about five times cheaper than
``csv.writer``, and the generator is dominated by output cost. Free text that could contain a comma
or a quote goes through :func:`_q` (the same rule as ``csv.QUOTE_MINIMAL``); a unit test checks that
every file round-trips byte-for-byte through the ``csv`` module.
"""

_DAY = 86_400
_HOUR = 3_600
_MIN = 60


def _q(s: str) -> str:
    """Quote one CSV field exactly like ``csv.QUOTE_MINIMAL`` (only when it needs quoting)."""
    if '"' in s or "," in s or "\n" in s or "\r" in s:
        return '"' + s.replace('"', '""') + '"'
    return s


# ------------------------------------------------------------------------------ reference data
# Why hand-written lists: small, readable, and they make the demo look like a Russian shop.

_MALE_FIRST = (
    ("Александр", "aleksandr"), ("Алексей", "aleksey"), ("Андрей", "andrey"),
    ("Дмитрий", "dmitriy"), ("Сергей", "sergey"), ("Иван", "ivan"), ("Максим", "maksim"),
    ("Михаил", "mikhail"), ("Никита", "nikita"), ("Артём", "artem"), ("Евгений", "evgeniy"),
    ("Владимир", "vladimir"), ("Павел", "pavel"), ("Роман", "roman"), ("Олег", "oleg"),
    ("Николай", "nikolay"), ("Игорь", "igor"), ("Денис", "denis"), ("Кирилл", "kirill"),
    ("Антон", "anton"), ("Илья", "ilya"), ("Егор", "egor"),
)  # fmt: skip
_FEMALE_FIRST = (
    ("Анна", "anna"), ("Мария", "mariya"), ("Елена", "elena"), ("Ольга", "olga"),
    ("Наталья", "natalya"), ("Татьяна", "tatyana"), ("Екатерина", "ekaterina"),
    ("Ирина", "irina"), ("Светлана", "svetlana"), ("Юлия", "yuliya"), ("Анастасия", "anastasiya"),
    ("Дарья", "darya"), ("Ксения", "kseniya"), ("Алина", "alina"), ("Марина", "marina"),
    ("Виктория", "viktoriya"), ("Полина", "polina"), ("Евгения", "evgeniya"),
)  # fmt: skip
_PATRONYMICS = (
    ("Александрович", "Александровна"), ("Алексеевич", "Алексеевна"), ("Андреевич", "Андреевна"),
    ("Дмитриевич", "Дмитриевна"), ("Сергеевич", "Сергеевна"), ("Иванович", "Ивановна"),
    ("Михайлович", "Михайловна"), ("Владимирович", "Владимировна"), ("Николаевич", "Николаевна"),
    ("Викторович", "Викторовна"), ("Петрович", "Петровна"), ("Юрьевич", "Юрьевна"),
    ("Олегович", "Олеговна"), ("Игоревич", "Игоревна"),
)  # fmt: skip
_LAST_NAMES = (
    ("Иванов", "Иванова", "ivanov"), ("Смирнов", "Смирнова", "smirnov"),
    ("Кузнецов", "Кузнецова", "kuznetsov"), ("Попов", "Попова", "popov"),
    ("Васильев", "Васильева", "vasilev"), ("Петров", "Петрова", "petrov"),
    ("Соколов", "Соколова", "sokolov"), ("Михайлов", "Михайлова", "mikhaylov"),
    ("Новиков", "Новикова", "novikov"), ("Фёдоров", "Фёдорова", "fedorov"),
    ("Морозов", "Морозова", "morozov"), ("Волков", "Волкова", "volkov"),
    ("Алексеев", "Алексеева", "alekseev"), ("Лебедев", "Лебедева", "lebedev"),
    ("Семёнов", "Семёнова", "semenov"), ("Егоров", "Егорова", "egorov"),
    ("Павлов", "Павлова", "pavlov"), ("Козлов", "Козлова", "kozlov"),
    ("Степанов", "Степанова", "stepanov"), ("Николаев", "Николаева", "nikolaev"),
    ("Орлов", "Орлова", "orlov"), ("Андреев", "Андреева", "andreev"),
    ("Макаров", "Макарова", "makarov"), ("Никитин", "Никитина", "nikitin"),
    ("Захаров", "Захарова", "zakharov"), ("Зайцев", "Зайцева", "zaytsev"),
    ("Соловьёв", "Соловьёва", "solovev"), ("Борисов", "Борисова", "borisov"),
    ("Яковлев", "Яковлева", "yakovlev"), ("Григорьев", "Григорьева", "grigorev"),
    ("Романов", "Романова", "romanov"), ("Воробьёв", "Воробьёва", "vorobev"),
    ("Кузьмин", "Кузьмина", "kuzmin"), ("Фролов", "Фролова", "frolov"),
    ("Королёв", "Королёва", "korolev"), ("Гусев", "Гусева", "gusev"),
    ("Белов", "Белова", "belov"), ("Тарасов", "Тарасова", "tarasov"),
    ("Ткаченко", "Ткаченко", "tkachenko"), ("Шевченко", "Шевченко", "shevchenko"),
    ("Ким", "Ким", "kim"), ("Цой", "Цой", "tsoy"),
)  # fmt: skip
_CITIES = (
    ("Москва", 30), ("Санкт-Петербург", 14), ("Новосибирск", 4), ("Екатеринбург", 4),
    ("Казань", 4), ("Нижний Новгород", 3), ("Краснодар", 3), ("Самара", 3),
    ("Ростов-на-Дону", 3), ("Уфа", 2), ("Воронеж", 2), ("Пермь", 2), ("Тула", 2),
    ("г. Москва", 2), ("москва", 1), ("Минск", 1),
)  # fmt: skip
_EMAIL_DOMAINS = (
    ("mail.ru", 30), ("yandex.ru", 24), ("gmail.com", 20), ("bk.ru", 7), ("inbox.ru", 5),
    ("list.ru", 4), ("ya.ru", 4), ("rambler.ru", 3), ("icloud.com", 2), ("yandex.com", 1),
)  # fmt: skip
_WORK_DOMAINS = ("romashka-ltd.ru", "vektor-grupp.ru", "stroymontazh-demo.ru", "alfa-trade-demo.ru")
# "900" is left out on purpose: the shop's employees have +7 (900) 100-xx-xx work mobiles.
_MOBILE_PREFIXES = (
    "901", "903", "905", "906", "909", "910", "912", "915", "916", "917", "919", "920",
    "921", "925", "926", "929", "931", "950", "951", "952", "960", "962", "977", "985", "987",
    "991", "995",
)  # fmt: skip
_FOREIGN_OPERATORS = {"375": ("29", "33", "44"), "380": ("50", "67", "93"), "49": ("151", "160")}
_SHOP_DOMAIN = "sportmarket-demo.ru"
_SHOP_PHONE = "8005550123"
"""The shop's own (fictitious) hot line; managers type it into customer cards by mistake."""
_SHOP_PHONE_RENDERINGS = (
    "8 (800) 555-01-23",
    "88005550123",
    "+7 800 555-01-23",
    "8-800-555-01-23",
    "78005550123",
)
_JUNK_PHONES = ("+7 (000) 000-00-00", "0", "89999999999", "-", "+7 (999) 999-99-99", "1111111")
_JUNK_EMAILS = ("test@test.ru", "noemail@mail.ru", "1@1.ru", "no@no.ru", "test@mail.ru")
_PRODUCTS = (
    ("Кроссовки беговые Aero Run", 5990), ("Кроссовки треккинговые Trail X", 7490),
    ("Кеды классические", 3290), ("Футболка хлопковая", 990), ("Футболка беговая Dry-Fit", 1790),
    ("Шорты спортивные", 1490), ("Леггинсы женские", 2290), ("Толстовка с капюшоном", 3490),
    ("Куртка ветрозащитная", 6990), ("Пуховик зимний", 12990), ("Шапка вязаная", 890),
    ("Перчатки флисовые", 690), ("Носки спортивные, 3 пары", 490), ("Рюкзак городской 25 л", 3990),
    ("Сумка для фитнеса", 2490), ("Коврик для йоги", 1990), ("Гантели 2×5 кг", 3590),
    ("Скакалка скоростная", 590), ("Бутылка для воды 750 мл", 790), ("Фитнес-браслет", 4490),
    ("Мяч футбольный", 2190), ("Ракетка для бадминтона", 1290), ("Велошлем", 3190),
    ("Термобельё комплект", 3890), ("Палки для скандинавской ходьбы", 2590),
)  # fmt: skip
_PRODUCTS = tuple((_q(name), price) for name, price in _PRODUCTS)  # CSV-ready names
_PRODUCT_IDS = tuple(str(1001 + i) for i in range(len(_PRODUCTS)))  # catalog element ids
_QUANTITIES = ("0.0000", "1.0000", "2.0000", "3.0000")  # double(18,4) as MySQL prints it
_CANCEL_REASONS = (
    "Клиент передумал",
    "Нет в наличии",
    "Дубль заказа",
    "Не дозвонились",
    "",
    "отмена",
)

# (weight, utm_source, utm_medium, campaigns, contents, terms); "" source = direct visit.
# Odd casing, spaces and unknown sources are deliberate: real UF_UTM_* fields are free text.
_CPC_CAMPAIGNS = (
    "brand_msk",
    "search_general",
    "retarget_cart",
    "summer_sale",
    "black_friday",
    "12345678",
    "{campaign_id}",
)
_CPC_TERMS = ("купить кроссовки", "кроссовки для бега", "спортивная одежда", "{keyword}", "")
_CONTENTS = ("banner_1", "text_ad_2", "{ad_id}", "")
_TRAFFIC: tuple[tuple[float, str, str, tuple[str, ...], tuple[str, ...], tuple[str, ...]], ...] = (
    (14, "yandex", "cpc", _CPC_CAMPAIGNS, _CONTENTS, _CPC_TERMS),
    (8, "google", "cpc", _CPC_CAMPAIGNS, _CONTENTS, _CPC_TERMS),
    (8, "google", "organic", ("",), ("",), ("",)),
    (10, "yandex", "organic", ("",), ("",), ("",)),
    (5, "vk", "social", ("vk_ads_spring", "post_123", "stories"), ("", "video"), ("",)),
    (3, "instagram", "social", ("stories", "reels_promo"), ("",), ("",)),
    (3, "telegram", "social", ("channel_post", "tg_ads"), ("",), ("",)),
    (2, "dzen", "referral", ("article_run",), ("",), ("",)),
    (1.5, "ok.ru", "social", ("ok_group",), ("",), ("",)),
    (2, "avito", "referral", ("avito_shop",), ("",), ("",)),
    (4, "email", "newsletter", ("newsletter_week", "abandoned_cart"), ("",), ("",)),
    (22, "", "", ("",), ("",), ("",)),
    (2, "Yandex ", "cpc", _CPC_CAMPAIGNS, _CONTENTS, _CPC_TERMS),
    (1.5, "VK", "Social", ("vk_ads_spring",), ("",), ("",)),
    (1, "YANDEX", "CPC", ("brand_msk",), ("",), ("",)),
    (1, "yandex.ru", "organic", ("",), ("",), ("",)),
    (0.5, " google", "cpc ", ("search_general",), ("",), ("",)),
    (1, "partner_blog", "referral", ("review_2024",), ("",), ("",)),
    (0.7, "admitad", "cpa", ("cashback",), ("",), ("",)),
    (0.5, "mytarget", "cpc", ("mt_lookalike",), ("",), ("",)),
    (0.5, "tiktok", "social", ("",), ("",), ("",)),
)
_UTM_CODES = ("UTM_SOURCE", "UTM_MEDIUM", "UTM_CAMPAIGN", "UTM_CONTENT", "UTM_TERM")

# CRM code lists (b_crm_status): (ENTITY_ID, STATUS_ID, NAME, SORT, SYSTEM, SEMANTICS, CATEGORY_ID)
_CRM_STATUS_ROWS: tuple[tuple[str, str, str, int, str, str | None, str | None], ...] = (
    ("STATUS", "NEW", "Не обработан", 10, "Y", None, None),
    ("STATUS", "IN_PROCESS", "В работе", 20, "N", None, None),
    ("STATUS", "PROCESSED", "Обработан", 30, "N", None, None),
    ("STATUS", "CONVERTED", "Качественный лид", 40, "Y", "S", None),
    ("STATUS", "JUNK", "Некачественный лид", 50, "Y", "F", None),
    ("SOURCE", "CALL", "Звонок", 10, "N", None, None),
    ("SOURCE", "EMAIL", "Электронная почта", 20, "N", None, None),
    ("SOURCE", "WEB", "Веб-сайт", 30, "N", None, None),
    ("SOURCE", "ADVERTISING", "Реклама", 40, "N", None, None),
    ("SOURCE", "PARTNER", "Существующий клиент", 50, "N", None, None),
    ("SOURCE", "RECOMMENDATION", "По рекомендации", 60, "N", None, None),
    ("SOURCE", "TRADE_SHOW", "Выставка", 70, "N", None, None),
    ("SOURCE", "WEBFORM", "CRM-форма", 80, "Y", None, None),
    ("SOURCE", "CALLBACK", "Обратный звонок", 90, "Y", None, None),
    ("SOURCE", "RC_GENERATOR", "Генератор продаж", 100, "Y", None, None),
    ("SOURCE", "STORE", "Интернет-магазин", 110, "Y", None, None),
    ("SOURCE", "OTHER", "Другое", 120, "N", None, None),
    ("SOURCE", "1|LIVECHAT", "Открытая линия - Онлайн-чат", 130, "N", None, None),
    ("SOURCE", "UC_ABC123", "Avito", 140, "N", None, None),
    ("DEAL_STAGE", "NEW", "Новая", 10, "Y", None, "0"),
    ("DEAL_STAGE", "PREPARATION", "Подготовка документов", 20, "N", None, "0"),
    ("DEAL_STAGE", "PREPAYMENT_INVOICE", "Счёт на предоплату", 30, "N", None, "0"),
    ("DEAL_STAGE", "EXECUTING", "В работе", 40, "N", None, "0"),
    ("DEAL_STAGE", "FINAL_INVOICE", "Финальный счёт", 50, "N", None, "0"),
    ("DEAL_STAGE", "WON", "Сделка успешна", 60, "Y", "S", "0"),
    ("DEAL_STAGE", "LOSE", "Сделка провалена", 70, "Y", "F", "0"),
    ("DEAL_STAGE", "APOLOGY", "Анализ причины провала", 80, "N", "F", "0"),
    ("DEAL_STAGE_1", "C1:NEW", "Новая", 10, "Y", None, "1"),
    ("DEAL_STAGE_1", "C1:PREPARATION", "Won back", 20, "N", None, "1"),
    ("DEAL_STAGE_1", "C1:WON", "Успешно", 30, "Y", "S", "1"),
    ("DEAL_STAGE_1", "C1:LOSE", "Провал", 40, "Y", "F", "1"),
)
_LEAD_SOURCES = (
    ("CALL", 18), ("EMAIL", 6), ("WEB", 14), ("WEBFORM", 18), ("CALLBACK", 8), ("STORE", 8),
    ("ADVERTISING", 6), ("RECOMMENDATION", 5), ("OTHER", 5), ("UC_ABC123", 4),
    ("1|LIVECHAT", 8),
)  # fmt: skip
_WEB_SOURCES = frozenset(
    ("WEB", "WEBFORM", "CALLBACK", "ADVERTISING", "UC_ABC123", "1|LIVECHAT", "STORE")
)
_LEAD_STATUSES = (
    (("CONVERTED", "S"), 50), (("JUNK", "F"), 15), (("IN_PROCESS", "P"), 13),
    (("NEW", "P"), 10), (("PROCESSED", "P"), 12),
)  # fmt: skip
_DEAL_STAGES = (
    (("0", "WON", "S"), 38), (("0", "LOSE", "F"), 20), (("0", "APOLOGY", "F"), 2),
    (("0", "NEW", "P"), 8), (("0", "PREPARATION", "P"), 6), (("0", "EXECUTING", "P"), 6),
    (("1", "C1:WON", "S"), 10), (("1", "C1:LOSE", "F"), 5), (("1", "C1:NEW", "P"), 5),
)  # fmt: skip
_ZERO_DATETIME = "0000-00-00 00:00:00"  # MySQL zero date, found on legacy rows
_LEAD_TITLES = {
    "EMAIL": "Письмо с сайта",
    "WEB": "Заявка с сайта",
    "WEBFORM": _q('CRM-форма "Обратная связь"'),
    "CALLBACK": _q('CRM-форма "Обратный звонок"'),
    "STORE": "Заказ в интернет-магазине",
    "ADVERTISING": "Лид с рекламы",
    "UC_ABC123": "Avito: отклик",
}
_LEAD_FIRST_ACTIVITY = {  # the activity that created the lead, by source
    "CALL": "call_in",
    "EMAIL": "email_in",
    "WEBFORM": "webform",
    "CALLBACK": "webform",
    "1|LIVECHAT": "chat",
}
_FOLLOW_UPS = ("call_out", "call_out", "email_out", "todo", "call_in")
_CONTACT_ACTIVITIES = ("call_in", "call_out", "email_in", "email_out", "chat", "todo")
_EMAIL_SUBJECTS = ("Вопрос по заказу", "Re: Заказ", "Счёт на оплату", "Обмен товара")
_WEBFORM_SUBJECTS = {
    "1": _q('Заполнена CRM-форма "Обратная связь"'),
    "2": _q('Заполнена CRM-форма "Обратный звонок"'),
}
_TODO_SUBJECTS = ("Перезвонить клиенту", "Отправить КП", "Уточнить адрес доставки")
_OPENLINE_CONNECTORS = ("livechat", "telegrambot", "vkgroup", "whatsappbyedna", "avito")
_ESPS = ("unisender", "sendpulse")

# Phone styles: index -> weight, per place where the number was typed.
_PH_USER = (15, 20, 8, 6, 3, 1, 20, 10, 5, 4)  # customer typing into the profile
_PH_CHECKOUT = (70, 6, 2, 2, 1, 0.5, 10, 5, 2, 1)  # checkout input with a mask
_PH_MANAGER = (10, 25, 5, 5, 3, 1.5, 25, 10, 10, 3)  # CRM managers
_PH_TELEPHONY = (0, 0, 0, 0, 0, 0, 50, 0, 50, 0)  # auto-created from a call


def _weighted(pairs: Iterable[tuple[Any, float]]) -> tuple[tuple[Any, ...], list[float], float]:
    """Precompute a cumulative table so a weighted draw is one ``random()`` and one bisect."""
    values, cum, total = [], [], 0.0
    for value, weight in pairs:
        total += weight
        values.append(value)
        cum.append(total)
    return tuple(values), cum, total


_W_CITIES = _weighted(_CITIES)
_W_DOMAINS = _weighted(_EMAIL_DOMAINS)
_W_TRAFFIC = _weighted((t[1:], t[0]) for t in _TRAFFIC)
_W_LEAD_SOURCES = _weighted(_LEAD_SOURCES)
_W_LEAD_STATUSES = _weighted(_LEAD_STATUSES)
_W_DEAL_STAGES = _weighted(_DEAL_STAGES)
_W_ORDERS = _weighted(((0, 45), (1, 25), (2, 12), (3, 8), (4, 5), (5, 5)))
_W_DEVICES = _weighted(((1, 55), (2, 30), (3, 15)))
_W_LINES = _weighted(((1, 45), (2, 30), (3, 15), (4, 10)))
_W_PH_USER = _weighted(enumerate(_PH_USER))
_W_PH_CHECKOUT = _weighted(enumerate(_PH_CHECKOUT))
_W_PH_MANAGER = _weighted(enumerate(_PH_MANAGER))
_W_PH_TELEPHONY = _weighted(enumerate(_PH_TELEPHONY))


def _fmt_ru_phone(d: str, style: int, ext: str) -> str:
    """Render a 10-digit Russian number (``9151234567``) the way people really type it."""
    a, b, c, e = d[:3], d[3:6], d[6:8], d[8:]
    if style == 0:
        return f"+7 ({a}) {b}-{c}-{e}"
    if style == 1:
        return "8" + d
    if style == 2:
        return f"8 {a} {b} {c} {e}"
    if style == 3:
        return d
    if style == 4:
        return f"7({a}){b}{c}{e}"
    if style == 5:
        return f"+7 {a} {b}-{c}-{e} доб. {ext}"
    if style == 6:
        return "+7" + d
    if style == 7:
        return f"8 ({a}) {b}-{c}-{e}"
    if style == 8:
        return "7" + d
    return f"8-{a}-{b}-{c}-{e}"


_U4_CACHE: dict[int, str] = {}


def _fmt_u4(v: int) -> str:
    """Money held in 1/10000 RUB as ``decimal(18,4)`` text; integers keep the output exact.

    Memoized (with a size cap, so memory stays bounded): prices repeat a lot and formatting them
    is a visible share of the run time.
    """
    s = _U4_CACHE.get(v)
    if s is None:
        s = f"{v // 10_000}.{v % 10_000:04d}"
        if len(_U4_CACHE) < 100_000:
            _U4_CACHE[v] = s
    return s


def _fmt_kop(v: int) -> str:
    """Money held in kopecks as ``decimal(18,2)`` text (CRM amounts)."""
    return f"{v // 100}.{v % 100:02d}"


def _utc_offsets(start: dt.date, days: int) -> list[int]:
    """Seconds to subtract from server-local time to get UTC, per day (Moscow: +3 h since 2014)."""
    try:
        tz: dt.tzinfo = ZoneInfo(SERVER_TZ)
    except ZoneInfoNotFoundError:  # no tz database on this machine: Moscow has no DST since 2014
        tz = dt.timezone(dt.timedelta(hours=3))
    offsets = []
    for k in range(days):
        offset = dt.datetime.combine(start + dt.timedelta(days=k), dt.time(12), tz).utcoffset()
        offsets.append(int(offset.total_seconds()) if offset is not None else 0)
    return offsets


@functools.cache
def _seconds_of_day() -> tuple[str, ...]:
    """``HH:MM:SS`` for every second of a day: formatting a time becomes one index operation."""
    return tuple(
        f"{h:02d}:{m:02d}:{s:02d}" for h in range(24) for m in range(60) for s in range(60)
    )


# ------------------------------------------------------------------------------ writers


def _render(rows: list[Row]) -> str:
    """CSV text of pre-rendered rows (one ``\\n``-terminated line each)."""
    return "\n".join(map(",".join, rows)) + "\n"


class _CsvTable:
    """Append-only CSV file: UTF-8, comma, ``\\n`` line ends, QUOTE_MINIMAL fields."""

    def __init__(self, path: Path, columns: Sequence[str]) -> None:
        self._fh = open(path, "w", encoding="utf-8", newline="")  # noqa: SIM115 - closed in close()
        self._fh.write(",".join(columns) + "\n")

    def write(self, rows: list[Row]) -> None:
        self._fh.write(_render(rows))

    def close(self) -> None:
        self._fh.close()


class _ParquetTable:
    """Parquet file with every column a string, one row group per flush.

    The rows are parsed from the very CSV text the CSV writer would produce, so both formats hold
    the same values by construction (empty field = NULL in both).
    """

    def __init__(self, path: Path, columns: Sequence[str]) -> None:
        import pyarrow as pa  # imported lazily: CSV users need no pyarrow
        import pyarrow.csv as pacsv
        import pyarrow.parquet as pq

        self._pa = pa
        self._pacsv = pacsv
        self._schema = pa.schema([(c, pa.string()) for c in columns])
        self._read = pacsv.ReadOptions(column_names=list(columns), use_threads=False)
        self._parse = pacsv.ParseOptions(newlines_in_values=False)
        self._convert = pacsv.ConvertOptions(
            column_types=dict.fromkeys(columns, pa.string()),
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
        )
        self._writer = pq.ParquetWriter(str(path), self._schema, compression="zstd")

    def write(self, rows: list[Row]) -> None:
        data = self._pa.BufferReader(_render(rows).encode("utf-8"))
        table = self._pacsv.read_csv(
            data, read_options=self._read, parse_options=self._parse, convert_options=self._convert
        )
        self._writer.write_table(table.cast(self._schema))

    def close(self) -> None:
        self._writer.close()


class _Sink:
    """Row buffer of one table, flushed to its writer when big enough (bounded memory)."""

    __slots__ = ("count", "name", "ncols", "rows", "writer")

    def __init__(self, name: str, columns: Sequence[str], writer: _CsvTable | _ParquetTable | None):
        self.name = name
        self.ncols = len(columns)
        self.writer = writer  # None = omitted table: rows are generated, then dropped
        self.rows: list[Row] = []
        self.count = 0

    def flush(self, min_cells: int = 0) -> None:
        rows = self.rows
        if not rows or len(rows) * self.ncols < min_cells:
            return
        widths = set(map(len, rows))  # cheap guard against a misplaced column in the generator
        if widths != {self.ncols}:
            raise RuntimeError(
                f"{self.name}: rows with {sorted(widths)} values, expected {self.ncols}"
            )
        if self.writer is not None:
            self.writer.write(rows)
            self.count += len(rows)
        rows.clear()


# ------------------------------------------------------------------------------ the world


class _Person:
    """Attributes of one generated person shared by all the records they leave behind."""

    __slots__ = (
        "email",
        "email2",
        "female",
        "first",
        "first_lat",
        "foreign",
        "household",
        "idx",
        "last",
        "last_lat",
        "phone",
        "pid",
        "second",
        "t_first",
        "user_id",
        "utm",
    )

    email: str | None  # canonical, lower case; None = never gives one
    email2: str | None  # work address of a few persons
    female: bool
    first: str
    first_lat: str
    foreign: tuple[str, str] | None  # (country code, national number) of a foreign phone
    household: bool  # shares the previous person's phone
    idx: int
    last: str
    last_lat: str
    phone: str | None  # 10 digits of a Russian mobile, e.g. "9151234567"
    pid: str
    second: str
    t_first: int
    user_id: str  # b_user.ID as text, "" when the person never registered
    utm: tuple[str, str, str, str, str]


_Weighted = tuple[tuple[Any, ...], list[float], float]
_Utm = tuple[str, str, str, str, str]
_Fm = list[tuple[str, str, str]]  # b_crm_field_multi entries: (TYPE_ID, VALUE_TYPE, VALUE)


class _World:
    """Counters, dictionaries, buffers and the RNG of one generation run.

    Times are integer seconds from ``start`` midnight, server-local; ``T`` is the exclusive end of
    the window and ``E`` the latest start of a new customer story (room for follow-ups).
    """

    def __init__(
        self,
        out_dir: Path,
        customers: int,
        seed: int,
        fmt: str,
        start: dt.date,
        days: int,
        omit_tables: frozenset[str],
    ) -> None:
        self.customers = customers
        self.seed = seed
        self.days = days
        self.T = days * _DAY
        self.E = self.T - _follow_up_days(days) * _DAY
        parquet = fmt == "parquet"
        # Flush thresholds in cells: parquet wants big row groups, CSV just bounded buffers.
        self.min_cells = 200_000 if parquet else 20_000
        writer_cls = _ParquetTable if parquet else _CsvTable
        self.sinks: dict[str, _Sink] = {}
        for name, cols in TABLE_COLUMNS.items():
            path = out_dir / f"{name}.{'parquet' if parquet else 'csv'}"
            writer = None if name in omit_tables else writer_cls(path, cols)
            self.sinks[name] = _Sink(name, cols, writer)
        self.truth = _Sink("_truth_persons", TRUTH_COLUMNS, None)
        self.truth.writer = _CsvTable(out_dir / TRUTH_FILE, TRUTH_COLUMNS)
        truth_tables = frozenset(t for t in RECORD_TABLES if t not in omit_tables)
        truth_rows = self.truth.rows

        def truth_row(table: str, rec_id: int | str, pid: str) -> None:
            """Ground truth: record ``(table, id)`` belongs to person ``pid``."""
            if table in truth_tables:
                truth_rows.append([table, str(rec_id), pid])

        self.truth_row = truth_row
        self.buf = {name: sink.rows for name, sink in self.sinks.items()}
        # Per-table auto-increment counters, plus internal sequences for provider object ids.
        sequences = (*TABLE_COLUMNS, "act_session", "webform_result", "imol_chat")
        self.counters = {name: itertools.count(1).__next__ for name in sequences}

        self.day_str = [(start + dt.timedelta(days=k)).isoformat() for k in range(days + 1)]
        self.sec_str = _seconds_of_day()
        self.utc_offset = _utc_offsets(start, days + 1)
        self._bind_clock()
        self._bind_rng(random.Random(seed * 1_000_003))
        self.prev_phone: str | None = None

    # ---------------------------------------------------------------- small helpers
    # The hot helpers are closures stored on the instance rather than methods: calling a closure
    # skips bound-method creation and attribute lookups, a measurable share of the run time.

    def _bind_clock(self) -> None:
        day_str, sec_str, utc_offset, T = self.day_str, self.sec_str, self.utc_offset, self.T
        day_sp = [d + " " for d in day_str]

        def ts(t: int) -> str:
            """Local datetime text ``YYYY-MM-DD HH:MM:SS``, clipped into the window."""
            if t >= T:
                t = T - 1
            elif t < 0:
                t = 0
            return day_sp[t // _DAY] + sec_str[t % _DAY]

        def ts_utc(t: int) -> str:
            """The same instant as local ``t``, written in UTC (ESP webhooks speak UTC)."""
            t = min(max(t, 0), T - 1)
            u = max(t - utc_offset[t // _DAY], 0)
            return day_sp[u // _DAY] + sec_str[u % _DAY]

        def date(t: int) -> str:
            """Midnight of the day of ``t`` (how ``BEGINDATE``/``CLOSEDATE`` look)."""
            t = min(max(t, 0), T - 1)
            return day_sp[t // _DAY] + "00:00:00"

        self.ts = ts
        self.ts_utc = ts_utc
        self.date = date

    def _bind_rng(self, rng: random.Random) -> None:
        """Point every random helper at ``rng`` (called once per chunk)."""
        r = rng.random
        getrandbits = rng.getrandbits
        bisect_right = bisect.bisect_right

        def between(a: int, b: int) -> int:
            """Uniform integer in ``[a, b)``; ``a`` when the interval is empty."""
            return a + int(r() * (b - a)) if b > a else a

        def pick(seq: Sequence[Any]) -> Any:
            return seq[int(r() * len(seq))]

        def wpick(table: _Weighted) -> Any:
            return table[0][bisect_right(table[1], r() * table[2])]

        def hex_(bits: int) -> str:
            return f"{getrandbits(bits):0{bits // 4}x}"

        def flag(yes: bool, mess: float = 0.01) -> str:
            """Y/N as Bitrix stores it; rarely lower case or empty (legacy rows, manual SQL)."""
            u = r()
            if u >= mess:
                return "Y" if yes else "N"
            if u < mess * 0.5:
                return "y" if yes else "n"
            return ""

        self.r = r
        self.between = between
        self.pick = pick
        self.wpick = wpick
        self.hex = hex_
        self.flag = flag

    def nid(self, table: str) -> int:
        """Next auto-increment id of a table (or of an internal sequence)."""
        return self.counters[table]()

    def messy_name(self, s: str, mess: float = 0.03) -> str:
        """Names as typed: surrounding spaces, lower case, caps lock."""
        if self.r() >= mess:
            return s
        k = int(self.r() * 4)
        if k == 0:
            return " " + s
        if k == 1:
            return s + " "
        if k == 2:
            return s.lower()
        return s.upper()

    def messy_email(self, e: str, mess: float) -> str:
        """One e-mail typed differently in different places."""
        if self.r() >= mess:
            return e
        k = int(self.r() * 7)
        local, _, domain = e.partition("@")
        if k == 0:
            return f"{local.capitalize()}@{domain.capitalize()}"
        if k == 1:
            return f" {e} "
        if k == 2:
            return "mailto:" + e
        if k == 3:
            return f"<{e}>"
        if k == 4:
            return e.upper()
        if k == 5:
            return e + " "
        return f"{local.title()}@{domain}"

    def phone_str(self, p: _Person, styles: _Weighted) -> str:
        """The person's phone in one of the many real-world spellings."""
        if p.foreign is not None:
            cc, nat = p.foreign
            k = int(self.r() * 5)
            if k == 0:
                return f"+{cc} {nat[:2]} {nat[2:5]}-{nat[5:7]}-{nat[7:]}"
            if k == 1:
                return f"+{cc}{nat}"
            if k == 2:
                return f"{cc}{nat}"
            if k == 3:
                return f"8 10 {cc} {nat}"  # the old Russian international prefix
            return f"+{cc} ({nat[:2]}) {nat[2:]}"
        assert p.phone is not None
        return _fmt_ru_phone(p.phone, self.wpick(styles), str(10 + int(self.r() * 90)))

    def junk_phone(self) -> str:
        return self.pick(_JUNK_PHONES)

    def junk_email(self, p: _Person) -> str:
        """Placeholder, shared or invalid e-mail typed when the real one is not given."""
        u = self.r()
        if u < 0.6:
            return self.pick(_JUNK_EMAILS)
        if u < 0.75:
            return f"{p.last_lat}@"
        if u < 0.85:
            return "нет"
        return ""

    def manager(self) -> str:
        return self.pick(self.managers)

    def utm_draw(self) -> _Utm:
        src, med, camps, contents, terms = self.wpick(_W_TRAFFIC)
        return src, med, self.pick(camps), self.pick(contents), self.pick(terms)

    # ---------------------------------------------------------------- run
    def run(self) -> dict[str, int]:
        self.preamble()
        self.flush()
        n_chunks = (self.customers + CHUNK_PERSONS - 1) // CHUNK_PERSONS
        for chunk in range(n_chunks):
            # A fresh stream per chunk: chunk k never depends on where chunk k-1's stream ended.
            self._bind_rng(random.Random(self.seed * 1_000_003 + chunk + 1))
            self.prev_phone = None
            first = chunk * CHUNK_PERSONS + 1
            last = min(self.customers, first + CHUNK_PERSONS - 1)
            for idx in range(first, last + 1):
                self.person(idx)
                if idx % 1000 == 0:
                    self.flush(self.min_cells)
        return self.close()

    def flush(self, min_cells: int = 0) -> None:
        for sink in self.sinks.values():
            sink.flush(min_cells)
        self.truth.flush(min_cells)

    def close(self) -> dict[str, int]:
        self.flush()
        counts: dict[str, int] = {}
        for name, sink in self.sinks.items():
            if sink.writer is not None:
                sink.writer.close()
                counts[name] = sink.count
        assert self.truth.writer is not None
        self.truth.writer.close()
        counts["_truth_persons"] = self.truth.count
        return counts

    def close_quietly(self) -> None:
        """Close every open file on the error path (best effort)."""
        for sink in (*self.sinks.values(), self.truth):
            if sink.writer is not None:
                with contextlib.suppress(Exception):
                    sink.writer.close()

    # ---------------------------------------------------------------- fixed part of the site
    def preamble(self) -> None:
        """Employees, technical users, dictionaries and mailing campaigns: the site's furniture."""
        buf, r, ts = self.buf, self.r, self.ts
        between, pick, hex_ = self.between, self.pick, self.hex
        users = buf["b_user"]
        self.managers: list[str] = []
        logins: set[str] = set()
        n_emp = min(50, 4 + self.customers // 2000)
        for k in range(1, n_emp + 1):
            uid = self.nid("b_user")
            female = r() < 0.5
            first, lat = pick(_FEMALE_FIRST if female else _MALE_FIRST)
            m, f, llat = pick(_LAST_NAMES)
            login = "admin" if k == 1 else f"{lat[0]}.{llat}"
            if login in logins:  # b_user.LOGIN is unique
                login += str(k)
            logins.add(login)
            t_reg = between(0, _DAY // 2)
            t_login = between(t_reg, self.T)
            mobile = f"+7 (900) 100-{20 + k // 100:02d}-{k % 100:02d}"
            work = pick(_SHOP_PHONE_RENDERINGS) + f" доб. {100 + k}"
            users.append([
                str(uid), ts(max(t_login, t_reg + _MIN)), login, "Y", first, f if female else m, "",
                f"{login}@{_SHOP_DOMAIN}", "", mobile, work, ts(t_reg), ts(t_login),
                ts(t_login + between(0, _HOUR)), "s1", "", "", "", "F" if female else "M",
                "Москва", hex_(128),
            ])  # fmt: skip
            self.truth_row("b_user", uid, f"E{k}")
            if k > 1:
                self.managers.append(str(uid))

        tech = 0

        def tech_user(login: str, auth: str, active: str, name: str, last: str, email: str) -> int:
            """A technical b_user row (not a customer); its own person id in the truth file."""
            nonlocal tech
            tech += 1
            uid = self.nid("b_user")
            t_reg = between(0, _DAY) if auth != "imconnector" else between(0, self.E)
            users.append([
                str(uid), ts(t_reg), login, active, name, last, "", email, "", "", "", ts(t_reg),
                "", "", "s1", auth, "", "", "", "", "",
            ])  # fmt: skip
            self.truth_row("b_user", uid, f"T{tech}")
            return uid

        n = 100_000 + int(r() * 900_000)
        anon_login = f"anonymous_{n}"
        self.anon_id = str(
            tech_user(
                anon_login, "saleanonymous", "N", "Анонимный покупатель", "",
                f"{anon_login}@example.com",
            )
        )  # fmt: skip
        for name in ("Марта", "Бот открытых линий"):
            tech_user(f"bot_{hex_(24)}", "bot", "Y", name, "", "")
        self.imconnectors: list[str] = []
        for _ in range(min(200, 3 + self.customers // 500)):
            login = f"imconnector_{hex_(32)}"
            uid = tech_user(login, "imconnector", "Y", "Гость", f"#{tech}", "")
            self.imconnectors.append(str(uid))

        props = (
            ("1", "Ф.И.О.", "FIO", "STRING", "N", "N", "Y"),
            ("1", "E-Mail", "EMAIL", "STRING", "Y", "N", "N"),
            ("1", "Телефон", "PHONE", "STRING", "N", "Y", "N"),
            ("1", "Индекс", "ZIP", "STRING", "N", "N", "N"),
            ("1", "Город", "CITY", "STRING", "N", "N", "N"),
            ("1", "Адрес доставки", "ADDRESS", "TEXTAREA", "N", "N", "N"),
            ("2", "Название компании", "COMPANY", "STRING", "N", "N", "N"),
            ("2", "ИНН", "INN", "STRING", "N", "N", "N"),
            ("2", "Контактное лицо", "CONTACT_PERSON", "STRING", "N", "N", "Y"),
            ("2", "E-Mail", "EMAIL", "STRING", "Y", "N", "N"),
            ("2", "Телефон", "PHONE", "STRING", "N", "Y", "N"),
        )
        self.props: dict[tuple[str, str], tuple[str, str, str]] = {}
        for i, (ptype, name, code, typ, is_email, is_phone, is_payer) in enumerate(props, 1):
            buf["b_sale_order_props"].append(
                [str(i), ptype, name, code, typ, "Y", is_email, is_phone, is_payer]
            )
            self.props[(ptype, code)] = (str(i), code, name)
        for i, (ent, code, name, sort, system, sem, cat) in enumerate(_CRM_STATUS_ROWS, 1):
            buf["b_crm_status"].append(
                [str(i), ent, _q(code), _q(name), str(sort), system, sem or "", cat or ""]
            )

        # Sender postings (one run per letter) and ESP campaigns, spread over the window.
        self.postings: list[tuple[str, int, str]] = []  # (posting id, local send time, utm)
        n_post = max(2, min(24, self.days // 30))
        for k in range(n_post):
            post_id = str(self.nid("b_sender_posting"))
            day = min(self.days - 1, 1 + (k * self.days) // n_post + int(r() * 3))
            t_sent = day * _DAY + 10 * _HOUR + between(0, 2 * _HOUR)
            t_create = max(0, t_sent - between(_HOUR, 3 * _DAY))
            mailing = "1" if r() < 0.75 else "2"
            buf["b_sender_posting"].append(
                [post_id, mailing, post_id, "S", ts(t_create), ts(t_sent)]
            )
            kind = "newsletter" if mailing == "1" else "promo"
            self.postings.append((post_id, t_sent, f"{kind}_{self.day_str[day].replace('-', '')}"))
        self.esp_campaigns: list[tuple[str, str, int, str]] = []  # (esp, campaign, time, utm)
        n_esp = max(2, min(24, self.days // 45))
        for k in range(n_esp):
            esp = _ESPS[0] if k < n_esp // 2 else _ESPS[1]  # the shop switched providers
            day = min(self.days - 1, 1 + (k * self.days) // n_esp + int(r() * 5))
            t = day * _DAY + 9 * _HOUR + between(0, 8 * _HOUR)
            camp = str(40_000_000 + k * 7919) if esp == "unisender" else f"sp{hex_(40)}"
            self.esp_campaigns.append((esp, camp, t, f"{esp}_{self.day_str[day].replace('-', '')}"))

    # ---------------------------------------------------------------- one person
    def person(self, idx: int) -> None:
        """Everything one customer leaves in the database: shop, CRM and e-mail marketing rows."""
        r, pick, wpick = self.r, self.pick, self.wpick
        p = _Person()
        p.idx = idx
        p.pid = f"P{idx}"
        p.female = r() < 0.52
        p.first, p.first_lat = pick(_FEMALE_FIRST if p.female else _MALE_FIRST)
        m, f, llat = pick(_LAST_NAMES)
        p.last = f if p.female else m
        p.last_lat = llat + ("a" if p.female and f != m else "")
        p.second = pick(_PATRONYMICS)[1 if p.female else 0]
        p.household = False
        p.foreign = None
        p.phone = None
        p.email = p.email2 = None

        if r() >= 0.02:  # 2 % never give a usable e-mail or phone
            if r() < 0.9:
                fl, ll = p.first_lat, p.last_lat
                k = int(r() * 6)
                patterns = (
                    f"{fl}.{ll}",
                    f"{ll}.{fl}",
                    f"{fl[0]}{ll}",
                    f"{ll}_{fl[0]}",
                    f"{fl}{ll}",
                )
                local = patterns[k] if k < 5 else ll
                sep = "" if r() < 0.6 else "_"
                # The trailing digits are exactly idx, so e-mails never collide between persons.
                p.email = f"{local}{sep}{idx}@{wpick(_W_DOMAINS)}"
                if r() < 0.08:
                    p.email2 = f"{fl[0]}.{ll}{idx}@{pick(_WORK_DOMAINS)}"
            u = r()
            if u < 0.03:
                cc = pick(("375", "380", "49"))
                tail = f"{(idx * 7_654_321 + 4_242_421) % 10_000_000:07d}"
                p.foreign = (cc, pick(_FOREIGN_OPERATORS[cc]) + tail + ("7" if cc == "49" else ""))
            elif u < 0.93 or p.email is None:
                if self.prev_phone is not None and r() < 0.015:
                    p.phone = self.prev_phone  # a household: two persons, one phone
                    p.household = True
                else:
                    # 7_654_321 is coprime with 10**7: distinct idx -> distinct subscriber number.
                    sub = (idx * 7_654_321 + 1_234_567) % 10_000_000
                    p.phone = f"{pick(_MOBILE_PREFIXES)}{sub:07d}"
        self.prev_phone = p.phone if not p.household else None
        p.utm = self.utm_draw()

        self.shop(p)
        self.crm(p)
        if p.email is not None:
            if r() < 0.45:
                self.sender(p)
            if r() < 0.35:
                self.esp(p)

    # ---------------------------------------------------------------- sale module
    def shop(self, p: _Person) -> None:
        """Devices (fusers), optional registration, orders with baskets, abandoned carts."""
        r, ts, buf, nid = self.r, self.ts, self.buf, self.nid
        between, pick, wpick, flag, hex_ = self.between, self.pick, self.wpick, self.flag, self.hex
        E = self.E
        t_first = between(0, int(self.T * 0.85))
        if t_first > E - _DAY:
            t_first = max(0, E - _DAY)
        p.t_first = t_first

        # fusers: [id, t_insert, t_last_used, cookie code, browser id, linked to the user]
        fusers: list[list[Any]] = []
        for k in range(wpick(_W_DEVICES)):
            t_ins = t_first if k == 0 else between(t_first, E)
            fid = str(nid("b_sale_fuser"))
            fusers.append([fid, t_ins, t_ins + between(0, _HOUR), hex_(128), hex_(128), False])

        registered = r() < 0.6
        t_reg = 0
        uid = 0
        if registered:
            t_reg = between(t_first + _MIN, min(t_first + 30 * _DAY, E))
            reg_fuser = pick([fz for fz in fusers if fz[1] <= t_reg])
            reg_fuser[5] = True
            for fz in fusers:
                if fz is not reg_fuser and r() < 0.5:
                    fz[5] = True  # logged in on this device too, later
            uid = nid("b_user")
        p.user_id = str(uid) if registered else ""

        t_auth = t_reg
        times = sorted(between(t_first + _HOUR, E) for _ in range(wpick(_W_ORDERS)))
        for t_o in times:
            fz = pick([fz for fz in fusers if fz[1] <= t_o - 10 * _MIN] or fusers[:1])
            logged_in = registered and t_o >= t_reg and fz[5] and r() < 0.9
            if logged_in:
                t_auth = t_o
            self.order(p, t_o, fz, p.user_id if logged_in else self.anon_id)

        # abandoned carts and wishlists (ORDER_ID empty)
        basket = buf["b_sale_basket"]
        for fz in fusers:
            if r() < 0.3:
                for _ in range(1 + int(r() * 3)):
                    t = between(fz[1], E)
                    prod = int(r() * len(_PRODUCTS))
                    name, price = _PRODUCTS[prod]
                    u4 = _fmt_u4(price * 10_000)
                    basket.append([
                        str(nid("b_sale_basket")), fz[0], "", _PRODUCT_IDS[prod], name, u4, u4,
                        "0.0000", "RUB", "1.0000", "s1", flag(r() < 0.15), flag(True), ts(t),
                        ts(t + between(0, _DAY)),
                    ])  # fmt: skip
                    fz[2] = max(fz[2], t)

        fuser_rows = buf["b_sale_fuser"]
        for fz in fusers:
            user = p.user_id if fz[5] else ""
            fuser_rows.append([fz[0], ts(fz[1]), ts(fz[2]), user, fz[3]])
            self.truth_row("b_sale_fuser", fz[0], p.pid)

        if registered:
            bx = next(fz for fz in fusers if fz[5])[4]
            self.site_user(p, uid, t_reg, t_auth, bx)

    def site_user(self, p: _Person, uid: int, t_reg: int, t_auth: int, bx: str) -> None:
        """The customer's b_user row (+ UF UTM row), sometimes with an older replica duplicate.

        ``t_auth`` is the last time the person was seen logged in (registration or an order).
        """
        r, ts = self.r, self.ts
        between, pick, wpick, flag, hex_ = self.between, self.pick, self.wpick, self.flag, self.hex
        if p.email is not None:
            login = p.email if r() < 0.85 else p.email.split("@")[0]
            email = self.messy_email(p.email, 0.08)
        else:
            login = f"7{p.phone}" if (p.phone and not p.household and r() < 0.7) else f"user{uid}"
            email = "" if r() < 0.6 else pick(_JUNK_EMAILS)
        has_phone = p.phone is not None or p.foreign is not None
        personal_phone = self.phone_str(p, _W_PH_USER) if has_phone and r() < 0.35 else ""
        mobile = self.phone_str(p, _W_PH_USER) if has_phone and r() < 0.5 else ""
        if not mobile and not personal_phone and not has_phone and r() < 0.2:
            mobile = self.junk_phone()
        work = ""
        if p.email2 is not None and r() < 0.3:
            n = f"{(p.idx * 3_456_789 + 7_654_321) % 10_000_000:07d}"  # unique per person
            work = f"+7 (495) {n[:3]}-{n[3:5]}-{n[5:]}"
        t_login = between(t_auth, self.E + _DAY)
        last_login = ts(t_login) if r() >= 0.01 else _ZERO_DATETIME
        last_act = ts(t_login + between(0, _HOUR))
        t_x = min(max(t_login, t_reg + _MIN) + between(0, _HOUR), self.T - 1)
        u = r()
        if u < 0.4:
            y = 1955 + int(r() * 50)
            birthday = f"{y}-{1 + int(r() * 12):02d}-{1 + int(r() * 28):02d}"
        else:
            birthday = "0000-00-00" if u < 0.41 else ""
        second = self.messy_name(p.second) if r() < 0.3 else ""
        active = flag(r() < 0.98, 0.005)
        first = self.messy_name(p.first)
        # a blank (" ") last name: an "empty" value that is not NULL even in CSV
        last = self.messy_name(p.last) if r() < 0.8 else (" " if r() < 0.1 else "")
        row = [
            str(uid), ts(t_x), login, active, first, last, second, email, personal_phone, mobile,
            work, ts(t_reg), last_login, last_act, "s1", "", hex_(32) if r() < 0.05 else "",
            birthday, ("F" if p.female else "M") if r() < 0.5 else "",
            wpick(_W_CITIES) if r() < 0.4 else "", bx if r() < 0.9 else "",
        ]  # fmt: skip
        users = self.buf["b_user"]
        if r() < 0.01:  # replica duplicate: an older version of the same row
            older = list(row)
            t_old = t_reg + (t_x - t_reg) // 2
            older[1] = ts(t_old)
            older[12] = ts(min(t_old, t_login)) if last_login != _ZERO_DATETIME else last_login
            older[13] = older[12]
            older[7] = email.upper()
            older[9] = ""
            older[4] = p.first.lower()
            users.extend((older, row) if r() < 0.5 else (row, older))
        else:
            users.append(row)
        self.truth_row("b_user", uid, p.pid)
        if r() < 0.75:
            self.buf["b_uts_user"].append([str(uid), *p.utm])

    def order(self, p: _Person, t_o: int, fz: list[Any], user_id: str) -> None:
        """One order: basket lines on the buyer's fuser, checkout properties, payment/cancel."""
        r, ts, nid, buf = self.r, self.ts, self.nid, self.buf
        between, pick, wpick, flag, hex_ = self.between, self.pick, self.wpick, self.flag, self.hex
        oid = nid("b_sale_order")
        soid = str(oid)
        s_o = ts(t_o)
        basket = buf["b_sale_basket"]
        next_line = self.counters["b_sale_basket"]
        total = 0
        disc_total = 0
        for _ in range(wpick(_W_LINES)):
            prod = int(r() * len(_PRODUCTS))
            name, price = _PRODUCTS[prod]
            base = price * 10_000
            pct = 0 if r() < 0.7 else pick((5, 10, 15, 20))
            disc = base * pct // 100
            if pct and r() < 0.3:
                disc += 3_333  # odd sale-module rounding leaves 3rd/4th decimals
            qty = 1 if r() < 0.8 else 2 + int(r() * 2)
            total += (base - disc) * qty
            disc_total += disc * qty
            t_b = max(fz[1], t_o - between(_MIN, 2 * _DAY))
            basket.append([
                str(next_line()), fz[0], soid, _PRODUCT_IDS[prod], name, _fmt_u4(base - disc),
                _fmt_u4(base), _fmt_u4(disc), "RUB", _QUANTITIES[qty], "s1", "N",
                flag(True, 0.005), ts(t_b), s_o,
            ])  # fmt: skip
        delivery = 0 if total >= 5000 * 10_000 else pick((0, 300, 350, 500)) * 10_000
        price = total + delivery
        if r() < 0.05:
            price -= price % 10_000  # rounded by a coupon: lines no longer sum exactly
        canceled = r() < 0.1
        payed = (not canceled and r() < 0.75) or (canceled and r() < 0.05)
        t_upd = t_o + between(_MIN, 3 * _DAY)
        t_paid = t_o + between(_MIN, 2 * _DAY) if payed else -1
        t_cancel = t_o + between(_HOUR, 3 * _DAY) if canceled else -1
        status = "N" if canceled or not payed else ("F" if r() < 0.6 else "P")
        t_status = max(t_o, t_paid, t_cancel)
        t_upd = min(max(t_upd, t_status + _MIN), self.T - 1)
        ptype = "1" if r() < 0.95 else "2"
        row = [
            soid, soid, "s1", user_id, ptype, status, s_o, ts(t_upd), ts(t_status),
            _fmt_u4(price), _fmt_u4(delivery), _fmt_u4(disc_total if r() < 0.5 else 0), "0.0000",
            _fmt_u4(price if payed else 0), "RUB", flag(payed, 0.005),
            ts(t_paid) if t_paid >= 0 else ("" if r() < 0.995 else _ZERO_DATETIME),
            flag(canceled, 0.005), ts(t_cancel) if canceled else "",
            pick(_CANCEL_REASONS) if canceled else "", str(1 + int(r() * 4)),
            str(1 + int(r() * 3)), f"bx_{hex_(52)}", "", fz[4] if r() < 0.8 else "",
            "N" if r() < 0.99 else "",
        ]  # fmt: skip
        orders = buf["b_sale_order"]
        if r() < 0.01:  # replica duplicate: the row as it was right after checkout
            older = list(row)
            older[7] = ts(t_o + (t_upd - t_o) // 2)
            older[8] = ts(t_o)
            older[5] = "N"
            older[13] = "0.0000"
            older[15] = "N"
            older[16] = ""
            older[17] = "N"
            older[18] = ""
            older[19] = ""
            orders.extend((older, row) if r() < 0.5 else (row, older))
        else:
            orders.append(row)
        self.truth_row("b_sale_order", oid, p.pid)
        fz[2] = max(fz[2], t_o)

        # checkout properties: what the buyer typed into the form
        if p.email is not None and r() < 0.95:
            e = p.email2 if p.email2 is not None and r() < 0.3 else p.email
            email = self.messy_email(e, 0.12)
        else:
            email = self.junk_email(p)
        if p.phone is not None or p.foreign is not None:
            phone = self.phone_str(p, _W_PH_CHECKOUT) if r() < 0.97 else self.junk_phone()
        else:
            phone = self.junk_phone() if r() < 0.7 else (" " if r() < 0.2 else "")
        u = r()
        if u < 0.55:
            fio = f"{p.last} {p.first} {p.second}"
        elif u < 0.85:
            fio = f"{p.first} {p.last}"
        else:
            fio = p.first
        if ptype == "1":
            vals = [("FIO", self.messy_name(fio, 0.05)), ("EMAIL", email), ("PHONE", phone)]
            if r() < 0.5:
                vals.append(("CITY", wpick(_W_CITIES)))
        else:
            company = _q(f'ООО "{pick(("Ромашка", "Вектор", "Альфа", "Спорт-Сервис"))}"')
            contact_person = self.messy_name(fio, 0.05)
            vals = [
                ("COMPANY", company), ("CONTACT_PERSON", contact_person), ("EMAIL", email),
                ("PHONE", phone),
            ]  # fmt: skip
        pv = buf["b_sale_order_props_value"]
        next_pv = self.counters["b_sale_order_props_value"]
        for code, value in vals:
            prop_id, prop_code, prop_name = self.props[(ptype, code)]
            if r() < 0.005:
                prop_code = prop_code + " "  # a trailing space in a code: join on ORDER_PROPS_ID
            pv.append([str(next_pv()), soid, prop_id, prop_code, prop_name, value])

    # ---------------------------------------------------------------- CRM
    def crm(self, p: _Person) -> None:
        """Leads (often converted), contacts, deals, their phones/e-mails, activities and UTMs."""
        r, between = self.r, self.between
        if r() < 0.5:
            t_lead = min(between(0, int(self.T * 0.9)), self.E - _HOUR)
            contact = self.lead(p, t_lead, None)
            if r() < 0.1:  # a second lead later: a repeat request or a duplicate
                t2 = between(t_lead + _DAY, self.E)
                if t2 < self.E:
                    self.lead(p, t2, contact)
        elif r() < 0.15:  # a contact created directly (shop integration, a manager)
            t_c = min(between(0, int(self.T * 0.9)), self.E - _HOUR)
            cid = self.nid("b_crm_contact")
            source = self.pick(("STORE", "CALL", "OTHER", "RECOMMENDATION", "STORE"))
            self.contact(p, cid, t_c, source, 0, None)
            for _ in range(int(r() * 3)):
                self.deal(p, cid, between(t_c, self.E), 0, source, None)

    def lead(
        self, p: _Person, t_lead: int, existing: tuple[int, int] | None
    ) -> tuple[int, int] | None:
        """One lead; a converted lead creates (or reuses) a contact and usually a deal.

        Returns the person's contact as ``(id, created)`` if there is one.
        """
        r, ts, buf, nid = self.r, self.ts, self.buf, self.nid
        between, pick, wpick, flag = self.between, self.pick, self.wpick, self.flag
        lid = nid("b_crm_lead")
        source = wpick(_W_LEAD_SOURCES)
        status, semantic = wpick(_W_LEAD_STATUSES)
        t_close = -1
        contact = existing
        if status == "CONVERTED":
            t_close = t_lead + between(5 * _MIN, 5 * _DAY)
            if contact is None:
                contact = (nid("b_crm_contact"), t_close)
        elif status == "JUNK":
            t_close = t_lead + between(_HOUR, 7 * _DAY)
        t_mod = max(t_close, t_lead) + between(0, 2 * _DAY)
        manager = self.manager()

        # what the lead knows about the person depends on where it came from
        fm: _Fm = []
        has_ph = p.phone is not None or p.foreign is not None
        if source == "CALL":
            if has_ph:
                fm.append(("PHONE", "WORK", self.phone_str(p, _W_PH_TELEPHONY)))
            name, last = ("", "") if r() < 0.5 else (p.first, "")
            title = f"Входящий звонок {fm[0][2]}" if fm else "Входящий звонок (скрытый номер)"
        elif source == "1|LIVECHAT":
            conn = pick(_OPENLINE_CONNECTORS)
            chat = nid("imol_chat")
            fm.append(("IM", "IMOL", f"imol|{conn}|1|{chat}|{pick(self.imconnectors)}"))
            if has_ph and r() < 0.4:
                fm.append(("PHONE", "MOBILE", self.phone_str(p, _W_PH_MANAGER)))
            if p.email and r() < 0.4:
                fm.append(("EMAIL", "WORK", self.messy_email(p.email, 0.15)))
            name, last = (p.first, "") if r() < 0.6 else ("Гость", "")
            title = f"{name} - Открытая линия"
        else:
            if source == "EMAIL":
                if p.email:
                    fm.append(("EMAIL", "WORK", self.messy_email(p.email, 0.15)))
            else:
                if has_ph and r() < 0.85:
                    vtype = pick(("MOBILE", "WORK", "MOBILE"))
                    fm.append(("PHONE", vtype, self.phone_str(p, _W_PH_MANAGER)))
                if p.email and r() < 0.6:
                    vtype = pick(("WORK", "HOME"))
                    fm.append(("EMAIL", vtype, self.messy_email(p.email, 0.15)))
            name, last = p.first, (p.last if r() < 0.6 else "")
            title = _LEAD_TITLES.get(source) or f"Лид #{lid}"
            if source == "RECOMMENDATION":
                title = f"{p.first} по рекомендации"
        if r() < 0.02:
            fm.append(("PHONE", "WORK", pick(_SHOP_PHONE_RENDERINGS)))  # manager typed the shop's
        elif r() < 0.02:
            fm.append(("PHONE", "MOBILE", self.junk_phone()))
        if name:
            name = self.messy_name(name, 0.05)
        full = " ".join(x.strip() for x in (name, last) if x)
        src_out = source if r() < 0.99 else f" {source}"
        webform = pick(("1", "2")) if source in ("WEBFORM", "CALLBACK") else ""
        opp = _fmt_kop(pick((0, 0, 199_000, 599_000, 1_500_000))) if r() < 0.7 else ""
        buf["b_crm_lead"].append([
            str(lid), ts(t_lead), ts(t_mod), manager, title, name, last,
            p.second if name and r() < 0.1 else "", full, status, semantic, _q(src_out),
            "" if r() < 0.8 else "с сайта", str(contact[0]) if contact else "", "", opp, "RUB",
            flag(existing is not None), ts(t_close) if t_close >= 0 else "", webform, "", "",
        ])  # fmt: skip
        self.truth_row("b_crm_lead", lid, p.pid)
        for type_id, vtype, value in fm:
            self.field_multi("LEAD", lid, type_id, vtype, value)
        utm = self.crm_utm(1, lid, p) if source in _WEB_SOURCES and r() < 0.75 else None

        deal_id = 0
        converted = status == "CONVERTED" and contact is not None
        if converted:
            assert contact is not None
            if contact is not existing:  # the conversion created the contact
                self.contact(p, contact[0], contact[1], source, lid, fm)
                if utm is not None and r() < 0.3:
                    self.crm_utm(3, contact[0], p, utm)
            if r() < 0.8:
                deal_id = self.deal(p, contact[0], t_close, lid, source, utm)
            for _ in range(int(r() * 2.2)):
                self.deal(p, contact[0], between(t_close, self.E), 0, source, None)

        # lead-phase activities; after conversion many get bound to the contact and deal too
        first_kind = _LEAD_FIRST_ACTIVITY.get(source)
        t_end = t_close if t_close >= 0 else min(self.E, t_lead + 14 * _DAY)
        kinds = [first_kind] if first_kind else []
        kinds += [pick(_FOLLOW_UPS) for _ in range(int(r() * 2.5))]
        for i, kind in enumerate(kinds):
            t = t_lead + between(0, 60) if i == 0 and first_kind else between(t_lead, t_end)
            binds = [(1, lid)]
            if converted and r() < 0.7:
                assert contact is not None
                binds.append((3, contact[0]))
                if deal_id:
                    binds.append((2, deal_id))
            self.activity(kind, t, t_lead, binds, fm)
        if converted and contact is not existing:
            assert contact is not None
            t_c = contact[1]
            for _ in range(int(r() * 3)):
                kind = pick(_CONTACT_ACTIVITIES)
                binds = [(2, deal_id), (3, contact[0])] if deal_id else [(3, contact[0])]
                self.activity(kind, between(t_c, self.E), t_c, binds, fm)
        return contact

    def contact(
        self, p: _Person, cid: int, t_c: int, source: str, lead_id: int, lead_fm: _Fm | None
    ) -> None:
        """A CRM contact with its phones/e-mails, site-user link field and replica duplicate."""
        r, ts, buf = self.r, self.ts, self.buf
        between, pick, flag = self.between, self.pick, self.flag
        fm: _Fm = []
        has_ph = p.phone is not None or p.foreign is not None
        if lead_fm is not None:
            fm.extend(x for x in lead_fm if x[0] in ("PHONE", "EMAIL") or r() < 0.5)
        else:
            if has_ph and r() < 0.9:
                vtype = pick(("MOBILE", "WORK", "MOBILE", "HOME"))
                fm.append(("PHONE", vtype, self.phone_str(p, _W_PH_MANAGER)))
            if p.email and r() < 0.7:
                fm.append(("EMAIL", pick(("WORK", "HOME")), self.messy_email(p.email, 0.15)))
        if p.email2 and r() < 0.5:
            fm.append(("EMAIL", "WORK", self.messy_email(p.email2, 0.1)))
        if has_ph and r() < 0.1:
            fm.append(("PHONE", "HOME", self.phone_str(p, _W_PH_MANAGER)))
        if r() < 0.03:
            fm.append(("PHONE", "WORK", pick(_SHOP_PHONE_RENDERINGS)))
        if r() < 0.03:
            fm.append(("WEB", "HOME", f"https://vk.com/{p.first_lat}_{p.last_lat}_{p.idx}"))
        if r() < 0.02:
            fm.append(("IM", "TELEGRAM", f"@{p.first_lat}_{p.idx}"))
        t_mod = min(t_c + between(_MIN, 20 * _DAY), self.T - 1)
        creator = self.manager()
        has_phone = any(x[0] == "PHONE" for x in fm)
        has_email = any(x[0] == "EMAIL" for x in fm)
        name = self.messy_name(p.first)
        last = self.messy_name(p.last) if r() < 0.85 else ""
        second = p.second if r() < 0.4 else ""
        full = " ".join(x.strip() for x in (name, last) if x)
        row = [
            str(cid), ts(t_c), ts(t_mod), creator, self.manager(), creator, flag(True, 0.01),
            name, last, second, full,
            "CLIENT" if r() < 0.88 else pick(("OTHER", "PARTNER", "SUPPLIER")),
            _q(source if r() < 0.99 else f"{source} "), "", "", str(lead_id) if lead_id else "",
            "", "", pick(("1", "2")) if source in ("WEBFORM", "CALLBACK") else "",
            flag(has_phone), flag(has_email),
        ]  # fmt: skip
        contacts = buf["b_crm_contact"]
        if r() < 0.01:  # replica duplicate: an older version of the same contact
            older = list(row)
            older[2] = ts(t_c + (t_mod - t_c) // 2)
            older[4] = creator
            older[9] = ""
            older[8] = ""
            older[10] = name.strip()
            contacts.extend((older, row) if r() < 0.5 else (row, older))
        else:
            contacts.append(row)
        self.truth_row("b_crm_contact", cid, p.pid)
        for type_id, vtype, value in fm:
            self.field_multi("CONTACT", cid, type_id, vtype, value)
        u = r()
        if p.user_id:
            if u < 0.55:
                buf["b_uts_crm_contact"].append([str(cid), p.user_id])
            elif u < 0.8:
                buf["b_uts_crm_contact"].append([str(cid), ""])
        elif u < 0.5:
            buf["b_uts_crm_contact"].append([str(cid), ""])

    def deal(
        self, p: _Person, cid: int, t_d: int, lead_id: int, source: str, utm: _Utm | None
    ) -> int:
        """A deal of a contact; the one made at conversion keeps the lead id and its UTMs."""
        r, ts, nid, date = self.r, self.ts, self.nid, self.date
        between, pick, wpick, flag = self.between, self.pick, self.wpick, self.flag
        did = nid("b_crm_deal")
        cat, stage, sem = wpick(_W_DEAL_STAGES)
        closed = sem != "P"
        t_close = t_d + between(_HOUR, 20 * _DAY)
        t_mod = t_close if closed else t_d + between(0, 10 * _DAY)
        opp = _fmt_kop(pick((99_000, 249_000, 599_000, 1_299_000)) + int(r() * 100) * 100)
        closedate = date(t_d + 7 * _DAY) if r() < 0.99 else _ZERO_DATETIME
        self.buf["b_crm_deal"].append([
            str(did), ts(t_d), ts(t_mod), self.manager(), f"Сделка #{did}", cat, stage, sem,
            flag(closed), str(cid), "", str(lead_id) if lead_id else "", opp, "RUB",
            pick(("SALE", "SALE", "GOODS", "COMPLEX")), _q(source), "", date(t_d), closedate,
            flag(not lead_id), "", "",
        ])  # fmt: skip
        if utm is not None and r() < 0.8:
            self.crm_utm(2, did, p, utm)
        return did

    def field_multi(self, entity: str, element: int, type_id: str, vtype: str, value: str) -> None:
        self.buf["b_crm_field_multi"].append([
            str(self.nid("b_crm_field_multi")), entity, str(element), type_id, vtype,
            f"{type_id}_{vtype}", value,
        ])  # fmt: skip

    def crm_utm(self, etype: int, eid: int, p: _Person, utm: _Utm | None = None) -> _Utm:
        """One b_crm_utm row per non-empty tag (the table's key is entity + code)."""
        if utm is None:
            utm = p.utm if self.r() < 0.7 else self.utm_draw()
        rows = self.buf["b_crm_utm"]
        for code, value in zip(_UTM_CODES, utm, strict=True):
            if value:
                rows.append([str(etype), str(eid), code, value])
        return utm

    def activity(
        self, kind: str, t: int, t_min: int, binds: list[tuple[int, int]], fm: _Fm
    ) -> None:
        """One b_crm_act row plus a b_crm_act_bind row per bound entity (the first is the owner)."""
        r, ts, nid = self.r, self.ts, self.nid
        between, pick, flag, hex_ = self.between, self.pick, self.flag, self.hex
        aid = nid("b_crm_act")
        t = max(t, t_min)
        created = t
        origin = ""
        assoc = "0"
        stream = ""
        if kind in ("call_in", "call_out"):
            incoming = kind == "call_in"
            missed = incoming and r() < 0.15
            dur = 0 if missed else between(20, 900)
            if not incoming:
                created = max(t_min, t - between(0, _DAY))  # scheduled before it was made
            phone = next((v for ty, _, v in fm if ty == "PHONE"), "")
            type_id, provider, ptype = "2", "VOXIMPLANT_CALL", "CALL"
            subject = f"{'Входящий' if incoming else 'Исходящий'} звонок {phone}".strip()
            direction = "1" if incoming else "2"
            completed = not missed and r() < 0.95
            origin = f"VI_externalCall.{hex_(64)}"
            stream = "4" if missed else ("1" if incoming else "2")
        elif kind in ("email_in", "email_out"):
            incoming = kind == "email_in"
            dur = 0
            type_id, provider, ptype = "4", "CRM_EMAIL", "EMAIL"
            subject = pick(_EMAIL_SUBJECTS)
            direction = "1" if incoming else "2"
            completed = r() < 0.85
            stream = "1" if incoming else "2"
        elif kind == "chat":
            dur = between(60, 3 * _HOUR)
            session = nid("act_session")
            type_id, provider, ptype = "6", "IMOPENLINES_SESSION", pick(_OPENLINE_CONNECTORS)
            subject = "Чат: Онлайн-чат"
            direction = "1"
            completed = r() < 0.9
            assoc = str(session)
            origin = f"IMOL_{session}"
            stream = "1"
        elif kind == "webform":
            dur = 0
            form = pick(("1", "2"))
            type_id, provider, ptype = "6", "CRM_WEBFORM", form
            subject = _WEBFORM_SUBJECTS[form]
            direction = "1"
            completed = True
            assoc = str(nid("webform_result"))
            stream = "1"
        else:  # a to-do item
            dur = 0
            type_id, provider, ptype = "6", "CRM_TODO", "TODO"
            subject = pick(_TODO_SUBJECTS)
            direction = "0"
            completed = r() < 0.7
        end = t + dur
        owner_type, owner_id = binds[0]
        self.buf["b_crm_act"].append([
            str(aid), type_id, provider, ptype, str(owner_type), str(owner_id), assoc, subject,
            direction, flag(completed, 0.005), "2" if completed else "1", ts(created),
            ts(end + between(0, _HOUR)), ts(t), ts(end), self.manager(), origin, "", stream,
        ])  # fmt: skip
        bind_rows = self.buf["b_crm_act_bind"]
        for otype, oid in binds:
            bind_rows.append([str(nid("b_crm_act_bind")), str(aid), str(oid), str(otype)])

    # ---------------------------------------------------------------- e-mail marketing
    def sender(self, p: _Person) -> None:
        """Sender-module contact, the postings it received, and its opens and clicks."""
        r, ts, nid, buf = self.r, self.ts, self.nid, self.buf
        between, pick, flag = self.between, self.pick, self.flag
        assert p.email is not None
        t_sub = between(p.t_first, self.E)
        cid = str(nid("b_sender_contact"))
        recipients = buf["b_sender_posting_recipient"]
        reads = buf["b_sender_posting_read"]
        clicks = buf["b_sender_posting_click"]
        any_read = any_click = unsub = False
        t_last = t_sub
        uid = p.user_id
        for post_id, t_sent, camp in self.postings:
            if t_sent <= t_sub or r() >= 0.6:
                continue
            rid = str(nid("b_sender_posting_recipient"))
            if unsub:  # denied: the contact unsubscribed earlier
                recipients.append([rid, post_id, cid, "D", "", uid, "N", "N", "N"])
                continue
            u = r()
            status = "N" if u < 0.95 else ("E" if u < 0.98 else "Y")  # N = sent (inverted!)
            is_read = is_click = is_unsub = False
            if status == "N":
                t_s = t_sent + between(0, 20 * _MIN)
                if r() < 0.3:
                    is_read = True
                    t_r = t_s
                    for _ in range(1 + (r() < 0.3)):
                        t_r = t_r + between(_MIN, 2 * _DAY)
                        reads.append([str(nid("b_sender_posting_read")), post_id, rid, ts(t_r)])
                        t_last = max(t_last, t_r)
                    if r() < 0.25:
                        is_click = True
                        t_k = t_r + between(5, 10 * _MIN)
                        for _ in range(1 + (r() < 0.2)):
                            src = "email" if r() < 0.9 else "Email"
                            section = pick(("obuv", "odezhda", "sale", "new"))
                            url = (
                                f"https://{_SHOP_DOMAIN}/catalog/{section}/?utm_source={src}"
                                f"&utm_medium=newsletter&utm_campaign={camp}"
                            )
                            click_id = str(nid("b_sender_posting_click"))
                            clicks.append([click_id, post_id, rid, ts(t_k), url])
                            t_last = max(t_last, t_k)
                            t_k += between(5, 10 * _MIN)
                if r() < 0.01:
                    is_unsub = unsub = True
                sent = ts(t_s)
            else:
                sent = ts(t_sent) if status == "E" else ""
            any_read |= is_read
            any_click |= is_click
            recipients.append([
                rid, post_id, cid, status, sent, uid, flag(is_read), flag(is_click),
                flag(is_unsub),
            ])  # fmt: skip
        code = p.email if r() < 0.97 else p.email.capitalize()
        buf["b_sender_contact"].append([
            cid, ts(t_sub), ts(t_last), "1", code, p.first if r() < 0.7 else "", uid,
            flag(unsub and r() < 0.3), flag(any_read), flag(any_click), flag(unsub),
        ])  # fmt: skip

    def esp(self, p: _Person) -> None:
        """Webhook events of the external ESP (bl_email_events); EVENT_TIME in UTC."""
        r, nid, between, ts_utc = self.r, self.nid, self.between, self.ts_utc
        assert p.email is not None
        t_sub = between(p.t_first, self.E)
        rows = self.buf["bl_email_events"]
        email = p.email if r() < 0.97 else self.messy_email(p.email, 1.0)

        def event(esp: str, kind: str, camp: str, url: str, t: int) -> None:
            rows.append([str(nid("bl_email_events")), esp, kind, email, camp, url, ts_utc(t)])

        for esp, camp, t_send, utm_camp in self.esp_campaigns:
            if t_send <= t_sub or r() >= 0.7:
                continue
            t = t_send + between(0, 30 * _MIN)
            if r() < 0.02:
                event(esp, "bounce", camp, "", t)
                return  # hard bounce: the address is dropped from later campaigns
            event(esp, "delivered", camp, "", t)
            if r() < 0.3:
                for _ in range(1 + (r() < 0.3)):
                    t += between(_MIN, 2 * _DAY)
                    event(esp, "open", camp, "", t)
                if r() < 0.3:
                    t += between(5, 10 * _MIN)
                    url = (
                        f"https://{_SHOP_DOMAIN}/sale/?utm_source=email&utm_medium=newsletter"
                        f"&utm_campaign={utm_camp}&utm_content={esp}"
                    )
                    event(esp, "click", camp, url, t)
            u = r()
            if u < 0.01:
                event(esp, "unsubscribe", camp, "", t + _MIN)
                return
            if u < 0.013:
                event(esp, "spam", camp, "", t + _MIN)
                return


# ------------------------------------------------------------------------------ public API


def generate(
    out_dir: str | os.PathLike[str],
    customers: int,
    seed: int = 42,
    fmt: str = "csv",
    start: dt.date | str = DEFAULT_START,
    days: int = DEFAULT_DAYS,
    omit_tables: Iterable[str] = (),
) -> dict[str, int]:
    """Write a fictitious Bitrix database export into ``out_dir``; return rows written per table.

    One file per table (``<table>.csv`` or ``<table>.parquet``) with exactly the columns of
    :data:`TABLE_COLUMNS`, plus ``_truth_persons.csv`` (always CSV) mapping every row of
    :data:`RECORD_TABLES` to the generated person it belongs to; its row count is returned under
    ``"_truth_persons"``. Tables in ``omit_tables`` are not written (a site without that module);
    table files of the other format or of omitted tables left in ``out_dir`` by an earlier run are
    deleted, so the directory holds exactly one export.
    The same arguments give byte-identical files, and memory use does not grow with ``customers``.

    All datetimes are server-local (:data:`SERVER_TZ`) inside ``[start, start + days)``, except
    the MySQL zero dates planted on purpose and ``bl_email_events.EVENT_TIME``, which is UTC.
    """
    if isinstance(start, str):
        start = dt.date.fromisoformat(start)
    if customers < 0:
        raise ValueError("customers must be >= 0")
    if days < 7:
        raise ValueError("days must be >= 7 (customer stories need room for follow-ups)")
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")
    omit = frozenset(omit_tables)
    unknown = omit - TABLE_COLUMNS.keys()
    if unknown:
        raise ValueError(f"unknown tables to omit: {sorted(unknown)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    # A reader globs <table>.csv|parquet: table files of an earlier run (another format, or a table
    # omitted now) would silently mix into this export, so they go. Nothing else is touched.
    for table in TABLE_COLUMNS:
        for ext in FORMATS:
            if ext != fmt or table in omit:
                (out / f"{table}.{ext}").unlink(missing_ok=True)
    world = _World(out, customers, seed, fmt, start, days, omit)
    # Every row is a fresh list, so the cyclic garbage collector keeps rescanning the buffers;
    # the generator builds no reference cycles, and pausing the collector saves about 20 %.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return world.run()
    except BaseException:
        world.close_quietly()
        raise
    finally:
        if gc_was_enabled:
            gc.enable()
