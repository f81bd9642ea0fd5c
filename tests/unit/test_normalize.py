"""Unit tests for bitrix_omni.normalize (e-mail / phone normalization for identity resolution)."""

from __future__ import annotations

import hashlib
import itertools
import random
import re

import numpy as np
import pandas as pd
import phonenumbers
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bitrix_omni import normalize as nz
from bitrix_omni.normalize import (
    extract_phones,
    hash_identifier,
    is_placeholder_phone_nsn,
    mask_email,
    mask_phone,
    normalize_email,
    normalize_emails,
    normalize_phone,
    normalize_phones,
)

NBSP = "\u00a0"

# --------------------------------------------------------------------------------------
# Real-world formats
# --------------------------------------------------------------------------------------

PHONE_CASES: list[tuple[object, str | None]] = [
    # RU national / international formats
    ("8 (915) 123-45-67", "+79151234567"),
    ("+7 915 1234567", "+79151234567"),
    ("+7(915)123-45-67", "+79151234567"),
    ("9151234567", "+79151234567"),
    ("7(915)1234567", "+79151234567"),
    ("89151234567", "+79151234567"),
    ("79151234567", "+79151234567"),
    ("8-915-123-45-67", "+79151234567"),
    ("8 9 1 5 1 2 3 4 5 6 7", "+79151234567"),
    ("+ 7 915 123 45 67", "+79151234567"),
    ("(+7) 915 123 45 67", "+79151234567"),
    ("+7 8 915 123 45 67", "+79151234567"),
    ("8 (495) 123-45-67", "+74951234567"),
    ("+7 (812) 123-45-67", "+78121234567"),
    ("8(3412)12-34-56", "+73412123456"),
    ("8 800 555-35-35", "+78005553535"),
    ("+7 912 345-67-89", "+79123456789"),  # partly sequential but plausible
    # extensions are dropped
    ("8 915 123 45 67 доб. 12", "+79151234567"),
    ("8 915 123 45 67 доб 12", "+79151234567"),
    ("8 (915) 123-45-67 (доб.12)", "+79151234567"),
    ("+7 495 123-45-67 вн. 305", "+74951234567"),
    ("8 915 123 45 67 ext. 12", "+79151234567"),
    ("8 915 123 45 67 #12", "+79151234567"),
    ("8 915 123 45 67 x12", "+79151234567"),
    ("+7 495 1234567, доб. 1234", "+74951234567"),
    # foreign
    ("+375 29 123-45-67", "+375291234567"),
    ("+380 44 123 4567", "+380441234567"),
    ("+380 (67) 123-45-67", "+380671234567"),
    ("+49 30 1234567", "+49301234567"),
    ("00 49 30 1234567", "+49301234567"),
    ("0049 (30) 123 45 67", "+49301234567"),
    ("810 49 30 1234567", "+49301234567"),
    ("+7 701 123 45 67", "+77011234567"),  # Kazakhstan shares +7
    ("+1 (415) 555-2671", "+14155552671"),
    # text around, unicode spaces, invisible characters, full-width digits
    ("тел. 8 915 123-45-67 Иван", "+79151234567"),
    ("моб.: +7(915)123-45-67", "+79151234567"),
    ("Телефон: 8 (495) 123 45 67 (офис)", "+74951234567"),
    (f"8{NBSP}915{NBSP}123{NBSP}45{NBSP}67", "+79151234567"),
    ("\u202f+7\u2007915\u2009123-45-67\u200b", "+79151234567"),
    ("\uff18 \uff19\uff11\uff15 \uff11\uff12\uff13 \uff14\uff15 \uff16\uff17", "+79151234567"),
    # numeric columns
    (79151234567, "+79151234567"),
    (79151234567.0, "+79151234567"),
    (np.int64(89151234567), "+79151234567"),
    # placeholders
    ("+7 (000) 000-00-00", None),
    ("89999999999", None),
    ("+7 999 999-99-99", None),
    ("+7 111 111 11 11", None),
    ("8 900 000 00 00", None),
    ("+7 911 111-11-11", None),
    ("1234567890", None),
    ("+7 (987) 654-32-10", None),
    ("0", None),
    ("0000000", None),
    # invalid / junk
    ("+7 (930) 000-00-01", None),  # unallocated 930 block
    ("+7 123 456 78 90", None),
    ("8 (915) 123-45", None),
    ("8 915 123 45 678 9", None),
    ("+9151234567", None),
    ("+89151234567", None),
    ("нет", None),
    ("не указан", None),
    ("-", None),
    ("ivan@mail.ru", None),
    ("8 915 123-45-67, 8 916 765-43-21", None),  # two numbers: ambiguous
    ("звонить после 18:00", None),
    # missing values
    (None, None),
    (float("nan"), None),
    (np.float64("nan"), None),
    (pd.NA, None),
    ("", None),
    ("   ", None),
    (NBSP, None),
    (True, None),
    (3.5, None),
]


@pytest.mark.parametrize(("raw", "expected"), PHONE_CASES, ids=[repr(c[0]) for c in PHONE_CASES])
def test_normalize_phone_formats(raw: object, expected: str | None) -> None:
    assert normalize_phone(raw) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(("raw", "expected"), PHONE_CASES, ids=[repr(c[0]) for c in PHONE_CASES])
def test_normalize_phones_batch_formats(raw: object, expected: str | None) -> None:
    assert normalize_phones([raw, raw]).to_pylist() == [expected, expected]


EMAIL_CASES: list[tuple[object, str | None]] = [
    ("ivan@mail.ru", "ivan@mail.ru"),
    ("Ivan.Petrov@Mail.RU", "ivan.petrov@mail.ru"),
    ("  ivan@mail.ru  ", "ivan@mail.ru"),
    (f"{NBSP}ivan@mail.ru{NBSP}", "ivan@mail.ru"),
    ("\u200bivan@mail.ru\ufeff", "ivan@mail.ru"),
    ("mailto:ivan@mail.ru", "ivan@mail.ru"),
    ("MAILTO:Ivan@Mail.ru?subject=Заказ", "ivan@mail.ru"),
    ("Ivan <ivan@x.ru>", "ivan@x.ru"),
    ('"Иван Петров" <Ivan@X.ru>', "ivan@x.ru"),
    ("<ivan@x.ru>", "ivan@x.ru"),
    ("<mailto:ivan@x.ru>", "ivan@x.ru"),
    ("ivan@mail.ru.", "ivan@mail.ru"),
    ("ivan@mail.ru,", "ivan@mail.ru"),
    ("ivan@mail.ru;", "ivan@mail.ru"),
    ('"ivan@mail.ru"', "ivan@mail.ru"),
    ("(ivan@mail.ru)", "ivan@mail.ru"),
    ("\uff49\uff56\uff41\uff4e\uff20\uff4d\uff41\uff49\uff4c\uff0e\uff52\uff55", "ivan@mail.ru"),
    ("ivan+shop@gmail.com", "ivan+shop@gmail.com"),  # +tags kept
    ("i.van@gmail.com", "i.van@gmail.com"),  # gmail dots kept
    ("o'brien@example.ie", "o'brien@example.ie"),
    ("ivan_petrov-1985@sub.domain.co.uk", "ivan_petrov-1985@sub.domain.co.uk"),
    ("123456789@mail.ru", "123456789@mail.ru"),  # old ICQ-number mailboxes are real
    # IDN: canonical form is lower-case Unicode
    ("иван@почта.рф", "иван@почта.рф"),
    ("Ivan@Почта.РФ", "ivan@почта.рф"),
    ("ivan@xn--80a1acny.xn--p1ai", "ivan@почта.рф"),
    ("ivan@XN--80A1ACNY.XN--P1AI", "ivan@почта.рф"),
    ("info@кириллица.рф", "info@кириллица.рф"),
    ("ivan@почта。рф", "ivan@почта.рф"),
    # invalid
    ("ivan@mail", None),
    ("ivan@mail.r", None),
    ("ivan@mail.r2", None),
    ("ivan@@mail.ru", None),
    ("ivan@mail@ru.ru", None),
    ("iv an@mail.ru", None),
    ("ivan mail.ru", None),
    ("@mail.ru", None),
    ("ivan@", None),
    ("ivan..petrov@mail.ru", None),
    (".ivan@mail.ru", None),
    ("ivan.@mail.ru", None),
    ("ivan@-mail.ru", None),
    ("ivan@mail-.ru", None),
    ("ivan@mail..ru", None),
    ("ivan@1.2.3.4", None),
    ("ivan@[1.2.3.4]", None),
    ("ivan@xn--zz.ru", None),
    ("a@b.ru; c@d.ru", None),
    ("<a@b.ru>, <c@d.ru>", None),
    ("x" * 65 + "@mail.ru", None),
    ("нет", None),
    ("89151234567", None),
    # placeholders
    ("noemail@mail.ru", None),
    ("NO-EMAIL@yandex.ru", None),
    ("net@net.ru", None),
    ("test@test.ru", None),
    ("ivan@example.com", None),
    ("ivan@mail.example.org", None),
    ("ivan@shop.test", None),
    ("ivan@shop.local", None),
    # missing values
    (None, None),
    (float("nan"), None),
    (pd.NA, None),
    ("", None),
    ("  ", None),
    (42, None),
]


@pytest.mark.parametrize(("raw", "expected"), EMAIL_CASES, ids=[repr(c[0]) for c in EMAIL_CASES])
def test_normalize_email_formats(raw: object, expected: str | None) -> None:
    assert normalize_email(raw) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(("raw", "expected"), EMAIL_CASES, ids=[repr(c[0]) for c in EMAIL_CASES])
def test_normalize_emails_batch_formats(raw: object, expected: str | None) -> None:
    assert normalize_emails([raw, raw]).to_pylist() == [expected, expected]


def test_normalize_email_is_idempotent() -> None:
    for raw, expected in EMAIL_CASES:
        if expected is not None:
            assert normalize_email(expected) == expected, raw


def test_normalize_phone_is_idempotent() -> None:
    for raw, expected in PHONE_CASES:
        if expected is not None:
            assert normalize_phone(expected) == expected, raw


# --------------------------------------------------------------------------------------
# Placeholder rules
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "nsn",
    [
        "0000000000",
        "9999999999",
        "9000000000",
        "9111111111",
        "9009009009",
        "1234567890",
        "0123456789",
        "9876543210",
        "0987654321",
        "123456789",
        "299999999",
    ],
)
def test_placeholder_nsn(nsn: str) -> None:
    assert is_placeholder_phone_nsn(nsn)


@pytest.mark.parametrize(
    "nsn", ["9151234567", "9123456789", "9012345678", "4951234567", "291234567", "291111111"]
)
def test_not_placeholder_nsn(nsn: str) -> None:
    assert not is_placeholder_phone_nsn(nsn)


def test_placeholder_rule_applies_to_foreign_numbers() -> None:
    assert normalize_phone("+375 29 999-99-99") is None
    assert normalize_phone("+375 29 123-45-67") == "+375291234567"


# --------------------------------------------------------------------------------------
# default_region
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("8 029 123-45-67", "BY", "+375291234567"),
        ("29 123 45 67", "BY", "+375291234567"),
        ("(029) 123-45-67", "by", "+375291234567"),
        ("+7 915 123-45-67", "BY", "+79151234567"),
        ("8 (915) 123-45-67", "BY", None),  # national RU format means nothing in BY
        ("8 701 123 45 67", "KZ", "+77011234567"),
        ("8 (727) 250-12-34", "KZ", "+77272501234"),
        ("8 (915) 123-45-67", "KZ", "+79151234567"),
        ("050 123 4567", "UA", "+380501234567"),
        ("00 49 30 1234567", "UA", "+49301234567"),
        ("030 1234567", "DE", "+49301234567"),
    ],
)
def test_default_region(raw: str, region: str, expected: str | None) -> None:
    assert normalize_phone(raw, default_region=region) == expected
    assert normalize_phones([raw, None], default_region=region).to_pylist() == [expected, None]


def test_unknown_region_raises() -> None:
    with pytest.raises(ValueError):
        normalize_phone("89151234567", default_region="XX")
    with pytest.raises(ValueError):
        normalize_phones(["89151234567"], default_region="Russia")


def test_extract_phones() -> None:
    assert extract_phones("8 915 123-45-67, 8 (495) 123-45-67") == ["+79151234567", "+74951234567"]
    assert extract_phones("8 915 123-45-67") == ["+79151234567"]
    assert extract_phones("+7 915 123-45-67 / 8 (915) 1234567") == ["+79151234567"]
    assert extract_phones("8 999 999-99-99, 8 915 123-45-67") == ["+79151234567"]
    assert extract_phones(None) == []
    assert extract_phones("нет") == []


# --------------------------------------------------------------------------------------
# Batch functions: shape, input types, distinct-values-once
# --------------------------------------------------------------------------------------

MIXED_PHONES: list[object] = [
    "8 (915) 123-45-67",
    None,
    "junk",
    "+375 29 123-45-67",
    float("nan"),
    "89151234567",
    "",
    "8 915 123 45 67 доб. 12",
    "+7 (000) 000-00-00",
    "8 (915) 123-45-67",
]
MIXED_PHONES_EXPECTED = [normalize_phone(v) for v in MIXED_PHONES]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(list, id="list"),
        pytest.param(tuple, id="tuple"),
        pytest.param(lambda v: pd.Series(v, dtype=object), id="series-object"),
        pytest.param(lambda v: pd.Series(v, dtype="str"), id="series-str"),
        pytest.param(lambda v: pd.Series(v, dtype="string[pyarrow]"), id="series-string-pyarrow"),
        pytest.param(lambda v: pd.Series(v, dtype="category"), id="series-category"),
        pytest.param(lambda v: np.array(v, dtype=object), id="numpy-object"),
        pytest.param(lambda v: pa.array(v, type=pa.string(), from_pandas=True), id="arrow"),
        pytest.param(
            lambda v: pa.array(v, type=pa.large_string(), from_pandas=True), id="arrow-large"
        ),
        pytest.param(
            lambda v: pa.chunked_array(
                [
                    pa.array(v[:4], type=pa.string(), from_pandas=True),
                    pa.array(v[4:], type=pa.string(), from_pandas=True),
                ]
            ),
            id="arrow-chunked",
        ),
        pytest.param(
            lambda v: pa.array(v, type=pa.string(), from_pandas=True).dictionary_encode(),
            id="arrow-dictionary",
        ),
    ],
)
def test_batch_preserves_length_order_and_nulls(make) -> None:  # type: ignore[no-untyped-def]
    out = normalize_phones(make(MIXED_PHONES))
    assert isinstance(out, pa.Array)
    assert pa.types.is_string(out.type) or pa.types.is_large_string(out.type)
    assert out.to_pylist() == MIXED_PHONES_EXPECTED
    raw_emails = [
        "Ivan@Mail.ru",
        None,
        "junk",
        float("nan"),
        "",
        "ivan@mail.ru",
        "noemail@mail.ru",
        "иван@почта.рф",
        "a@b.ru",
        "Ivan@Mail.ru",
    ]
    expected = [normalize_email(v) for v in raw_emails]  # type: ignore[arg-type]
    assert normalize_emails(make(raw_emails)).to_pylist() == expected


def test_batch_numpy_unicode_and_numeric_inputs() -> None:
    assert normalize_phones(np.array(["89151234567", "x"])).to_pylist() == ["+79151234567", None]
    ints = np.array([79151234567, 89151234567, 1], dtype=np.int64)
    assert normalize_phones(ints).to_pylist() == ["+79151234567", "+79151234567", None]
    floats = pd.Series([79151234567.0, np.nan, 1.5])
    assert normalize_phones(floats).to_pylist() == ["+79151234567", None, None]
    mixed = ["89151234567", 79151234567, None, True]
    assert normalize_phones(mixed).to_pylist() == ["+79151234567", "+79151234567", None, None]
    assert normalize_emails([1, "a@b.ru", None]).to_pylist() == [None, "a@b.ru", None]


def test_batch_string_view_input() -> None:
    if not hasattr(pa, "string_view"):
        pytest.skip("pyarrow without string_view")
    arr = pa.array(["8 (915) 123-45-67", None], type=pa.string_view())
    assert normalize_phones(arr).to_pylist() == ["+79151234567", None]


def test_batch_empty_and_all_null() -> None:
    assert normalize_phones([]).to_pylist() == []
    assert normalize_emails([]).to_pylist() == []
    assert normalize_phones([None, None]).to_pylist() == [None, None]
    assert normalize_emails(pd.Series([np.nan, np.nan])).to_pylist() == [None, None]
    assert normalize_phones(pa.chunked_array([], type=pa.string())).to_pylist() == []


def test_batch_large_string_in_large_string_out() -> None:
    out = normalize_phones(pa.array(["89151234567"], type=pa.large_string()))
    assert out.type == pa.large_string()
    out = normalize_emails(pa.array(["a@b.ru"], type=pa.string()))
    assert out.type == pa.string()


def _counting(monkeypatch: pytest.MonkeyPatch, name: str) -> list[object]:
    calls: list[object] = []
    original = getattr(nz, name)

    def wrapper(*args: object) -> object:
        calls.append(args[0])
        return original(*args)

    monkeypatch.setattr(nz, name, wrapper)
    return calls


def test_phones_distinct_values_normalized_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _counting(monkeypatch, "_normalize_phone_str")
    slow_values = [
        "tel. 8 915 123-45-67",
        "+375 29 123-45-67",
        "junk",
        "8 800 555 35 35",
        "+7 (000) 000-00-00",  # unallocated range: left to phonenumbers
    ]
    fast_values = [
        "8 (915) 123-45-67",
        "+7 915 765 43 21",
        "9161234567",
        "8 (495) 123-45-67",
        "8 (495) 123-45-67 (доб. 123)",
        "+7\u00a0916\u00a0123\u00a045\u00a067",
        "8 999 999 99 99",  # fast path placeholder
    ]
    values = (slow_values + fast_values + [None]) * 1000
    random.Random(0).shuffle(values)
    out = normalize_phones(values)
    assert sorted(calls) == sorted(slow_values)  # once each; fast-path values never
    assert out.to_pylist() == [normalize_phone(v) for v in values]


def test_phones_other_region_all_slow_but_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _counting(monkeypatch, "_normalize_phone_str")
    values = ["29 123 45 67", "8 029 123-45-67", "29 123 45 67", None] * 500
    out = normalize_phones(values, default_region="BY")
    assert sorted(calls) == ["29 123 45 67", "8 029 123-45-67"]
    assert set(out.to_pylist()) == {"+375291234567", None}


def test_emails_distinct_values_normalized_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _counting(monkeypatch, "_normalize_email_str")
    slow_values = ["Ivan <ivan@x.ru>", "иван@почта.рф", "mailto:a@b.ru", "junk"]
    fast_values = ["a@b.ru", " a@b.ru. ", "Ivan.Petrov@Mail.ru", "noemail@mail.ru"]
    values = (slow_values + fast_values + [None]) * 1000
    out = normalize_emails(values)
    assert sorted(calls) == sorted(slow_values)
    assert out.to_pylist() == [normalize_email(v) for v in values]


# --------------------------------------------------------------------------------------
# Fast path == slow path (property tests)
# --------------------------------------------------------------------------------------

_FAST_NSN_RE = re.compile(rf"(?:{nz._RU_FAST_MOBILE}|{nz._RU_FAST_GEO})")


def test_fast_path_codes_are_valid_in_phonenumbers_metadata() -> None:
    """Every 3-digit code the RU fast path accepts is valid for any 7 following digits.

    Checked with phonenumbers itself for all 100 two-digit continuations (plus random
    tails), so a metadata update that withdraws a range fails here, not in production.
    """
    rng = random.Random(42)
    codes = [f"{c:03d}" for c in range(1000) if _FAST_NSN_RE.fullmatch(f"{c:03d}")]
    assert len(codes) > 150
    assert not any(c.startswith(("7", "0", "1", "2", "5", "6")) for c in codes)
    assert "930" not in codes and "800" not in codes
    for code, head in itertools.product(codes, range(100)):
        tail = "".join(rng.choice("0123456789") for _ in range(5))
        number = phonenumbers.parse(f"+7{code}{head:02d}{tail}")
        assert phonenumbers.is_valid_number(number), (code, head, tail)


def _groups(digits: str, cuts: list[int]) -> list[str]:
    points = sorted({c % (len(digits) + 1) for c in cuts} | {0, len(digits)})
    return [digits[a:b] for a, b in itertools.pairwise(points) if b > a]


_NSN_KINDS = st.one_of(
    st.builds(
        lambda c, r: c + r,
        st.sampled_from(["9", "90", "93", "930", "99"]),
        st.text("0123456789", min_size=9, max_size=9),
    ),
    st.builds(
        lambda c, r: c + r,
        st.sampled_from(
            ["495", "499", "812", "343", "3412", "831", "701", "727", "800", "123", "000", "300"]
        ),
        st.text("0123456789", min_size=7, max_size=7),
    ),
    st.text("0123456789", min_size=10, max_size=10),
    st.builds(lambda d: d * 10, st.sampled_from("0123456789")),
    st.builds(
        lambda a, b, n: a + b * 9 if n else a * 2 + b * 8,
        st.sampled_from("0189"),
        st.sampled_from("019"),
        st.booleans(),
    ),
    st.sampled_from(["0123456789", "1234567890", "9876543210", "0987654321", "9123456789"]),
    st.text("0123456789", min_size=8, max_size=12),
)


@st.composite
def ru_phone_strings(draw: st.DrawFn) -> str:
    nsn = draw(_NSN_KINDS)
    prefix = draw(
        st.sampled_from(["", "8", "7", "+7", "+8", "+ 7", "+", "00 7", "810 7", "+7 8", "9", "+77"])
    )
    sep = draw(
        st.sampled_from([" ", "-", "", "  ", " - ", ".", "\u00a0", "\t", "\u2009", "\u200b"])
    )
    groups = _groups(nsn, draw(st.lists(st.integers(0, 12), max_size=4)))
    if groups and draw(st.booleans()):
        groups[0] = "(" + groups[0] + ")"
    body = sep.join(groups)
    if prefix and draw(st.booleans()):
        prefix = "(" + prefix + ")"
    text = prefix + draw(st.sampled_from([" ", "", "-", " ("])) + body
    lead = draw(st.sampled_from(["", " ", "  ", "тел. ", "(", "-", "+", "\u00a0", "\u200b"]))
    trail = draw(st.one_of(st.sampled_from(["", " ", ")", "-", ",", ".", " Иван"]), _EXTENSIONS))
    return lead + text + trail


_EXTENSIONS = st.builds(
    "".join,
    st.tuples(
        st.sampled_from(["", " ", ", ", " (", ";", "(", "\u00a0", "-"]),
        st.sampled_from(
            [
                *("доб", "ДОБ", "Доб", "добавочный", "вн", "внутр", "доп"),
                *("ext", "EXT", "extension", "x", "X", "#", "tel"),
                "\u0445",  # Cyrillic look-alike of x
            ]
        ),
        st.sampled_from(["", " ", "  ", "\t", ".", ":", ". ", ".:", " . "]),
        st.text("0123456789", min_size=0, max_size=9),
        st.sampled_from(["", ")", " )", " ", "\u0430", "1", " x2"]),
    ),
)


_JUNK = st.text(alphabet="0123456789 +-()78x#.,ext\u00a0\t" + "добвн", max_size=25)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(ru_phone_strings(), _JUNK, st.none()), min_size=1, max_size=12))
def test_phones_batch_equals_scalar(values: list[str | None]) -> None:
    assert normalize_phones(values).to_pylist() == [normalize_phone(v) for v in values]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(ru_phone_strings(), _JUNK), min_size=1, max_size=8))
def test_phones_batch_equals_scalar_other_region(values: list[str]) -> None:
    for region in ("KZ", "BY"):
        expected = [normalize_phone(v, region) for v in values]
        assert normalize_phones(values, region).to_pylist() == expected


@settings(max_examples=300, deadline=None)
@given(ru_phone_strings())
def test_fast_path_accepts_only_what_slow_path_agrees_with(raw: str) -> None:
    uniques = pa.array([raw])
    accepted, values = nz._ru_fast_phones(uniques)
    if accepted[0]:
        assert values[0].as_py() == nz._normalize_phone_str(raw, "RU")


#: Words around a number: mostly what the in-text fast path accepts (Cyrillic, spaces,
#: punctuation), plus what it must leave to phonenumbers (Latin letters, digits,
#: brackets, currency, look-alikes that NFKC turns into Latin letters).
_TEXT_AROUND = st.text(
    alphabet="тел.моб:ИванвечеромЁё ,;!?-\u2013\u2014\"'«»" + "xTel5(+)%₽\u2121\u00e9",
    max_size=12,
)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_TEXT_AROUND, ru_phone_strings(), _TEXT_AROUND)
def test_phones_in_text_fast_path_equals_scalar(before: str, phone: str, after: str) -> None:
    raw = before + phone + after
    accepted, values = nz._ru_fast_phones(pa.array([raw]))
    if accepted[0]:
        assert values[0].as_py() == nz._normalize_phone_str(raw, "RU")
    assert normalize_phones([raw]).to_pylist() == [normalize_phone(raw)]


def test_phones_in_text_take_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _counting(monkeypatch, "_normalize_phone_str")
    fast = ["тел. 8 911 0195905 Иван", "моб.: +7 (915) 123-45-67", "Иван — 9151234567!"]
    slow = ["tel 8 915 1234567", "8 915 1234567 и 8 916 1234567", "тел. 8 (915 1234567"]
    out = normalize_phones(fast + slow)
    assert sorted(calls) == sorted(slow)
    assert out.to_pylist() == [normalize_phone(v) for v in fast + slow]
    assert out.to_pylist()[:3] == ["+79110195905", "+79151234567", "+79151234567"]


def test_number_only_text_is_not_searched_for_a_shorter_number() -> None:
    # Digits and number punctuation only, invalid as a whole: no guessing inside.
    assert normalize_phone("+375 29 006 9604") is None
    assert normalize_phone("+7 (915) 123-45-67 (8)") is None
    # With words around, the matcher still looks for the one number in the text.
    assert normalize_phone("звоните: +7 (915) 123-45-67, Иван") == "+79151234567"


_LOCAL_ALPHABET = "abcXYZ019._%+-'!#иё"
_LABEL_ALPHABET = "abcXYZ09-иё"


@st.composite
def email_strings(draw: st.DrawFn) -> str:
    local = draw(
        st.one_of(
            st.text(_LOCAL_ALPHABET, min_size=0, max_size=10),
            st.sampled_from(["noemail", "NET", "test", "ivan", "x" * 64, "x" * 65]),
        )
    )
    labels = draw(
        st.lists(st.text(_LABEL_ALPHABET, min_size=0, max_size=8), min_size=0, max_size=3)
    )
    tld = draw(
        st.sampled_from(
            ["ru", "RU", "com", "r", "рф", "xn--p1ai", "test", "local", "r2", "", "x" * 63]
        )
    )
    domain = ".".join([*labels, tld])
    if draw(st.booleans()):
        domain = draw(
            st.sampled_from(["example.com", "a.example.org", "xn--80a1acny.xn--p1ai", "mail.ru"])
        )
    at = draw(st.sampled_from(["@", "@", "@", "@@", "", "\uff20"]))
    addr = local + at + domain
    deco = draw(
        st.sampled_from(
            [
                *("{}", "{}", " {} ", "<{}>", "Ivan <{}>", "mailto:{}", "{}.", "{},", '"{}"'),
                *("\u00a0{}", ",{};", "\u200b{}\u00a0.", "\t{}\n", ".{}", "{} .,", "{}\u3002"),
            ]
        )
    )
    return deco.format(addr)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.one_of(email_strings(), st.text(max_size=20), st.none()), min_size=1, max_size=12)
)
def test_emails_batch_equals_scalar(values: list[str | None]) -> None:
    assert normalize_emails(values).to_pylist() == [normalize_email(v) for v in values]


# --------------------------------------------------------------------------------------
# Masking and hashing
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ivan@mail.ru", "iv***@mail.ru"),
        ("Ivan.Petrov <IVAN.PETROV@MAIL.RU>", "iv***@mail.ru"),
        ("ab@x.ru", "a***@x.ru"),
        ("a@x.ru", "a***@x.ru"),
        ("иван@почта.рф", "ив***@почта.рф"),
        ("junk", None),
        (None, None),
    ],
)
def test_mask_email(raw: str | None, expected: str | None) -> None:
    assert mask_email(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+79151234567", "+7915***4567"),
        ("8 (915) 123-45-67", "+7915***4567"),
        ("+375 29 123-45-67", "+375291***567"),
        ("+49 30 1234567", "+49301***567"),
        ("junk", None),
        (None, None),
    ],
)
def test_mask_phone(raw: str | None, expected: str | None) -> None:
    assert mask_phone(raw) == expected


def test_mask_phone_hides_enough_digits() -> None:
    for raw in ["+79151234567", "+375291234567", "+3723212345", "+3532212345", "+4915123456789"]:
        masked = mask_phone(raw)
        assert masked is not None
        shown = sum(ch.isdigit() for ch in masked)
        assert len(raw) - 1 - shown >= 3, (raw, masked)


def test_hash_identifier() -> None:
    expected = hashlib.sha256(b"phone:+79151234567").hexdigest()
    assert hash_identifier("phone", "+79151234567") == expected
    salted = hashlib.sha256("s3cretemail:иван@почта.рф".encode()).hexdigest()
    assert hash_identifier("email", "иван@почта.рф", salt="s3cret") == salted
    assert hash_identifier("email", "x@y.ru") != hash_identifier("phone", "x@y.ru")
    assert re.fullmatch(r"[0-9a-f]{64}", hash_identifier("email", "x@y.ru"))
    for kind, value in [("", "x"), ("a:b", "x"), ("email", ""), ("email", None)]:
        with pytest.raises(ValueError):
            hash_identifier(kind, value)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------
# Batch hashing and masking
# --------------------------------------------------------------------------------------

#: Phones of many countries (1-, 2- and 3-digit country codes) in national and
#: international formats, plus junk; normalized by the scalar function in the tests.
_WORLD_PHONES = st.one_of(
    ru_phone_strings(),
    st.builds(
        lambda cc, rest: f"+{cc} {rest}",
        st.sampled_from(["375", "380", "1", "44", "49", "998", "7", "86", "39", "33", "996"]),
        st.text("0123456789", min_size=4, max_size=13),
    ),
    _JUNK,
)
_EMAIL_TEXT = st.one_of(
    st.from_regex(r"[A-Za-z0-9._%+\-\u0430-\u044f]{1,12}@[a-z\u0430-\u044f\-]{1,8}\.(ru|com|рф)"),
    st.sampled_from(["Ivan <IVAN@Mail.RU>", "mailto:a@b.ru", "ivan@xn--80a1acny.xn--p1ai"]),
    st.text(max_size=12),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(["email", "phone"]), st.text(max_size=10)), max_size=8))
def test_hash_identifiers_equals_scalar(rows: list[tuple[str, str]]) -> None:
    kinds = [k for k, _ in rows]
    values = [v for _, v in rows]
    expected = [hash_identifier(k, v) if v else None for k, v in rows]
    assert nz.hash_identifiers(kinds, values).to_pylist() == expected
    usable = [(k, v) for k, v in rows if v]
    digests = nz.identifier_digests([k for k, _ in usable], [v for _, v in usable])
    assert [bytes(d).hex() for d in digests] == [hash_identifier(k, v) for k, v in usable]


def test_hash_identifiers_inputs_and_errors() -> None:
    values = pd.Series(["a@b.ru", None, "", "a@b.ru"], dtype="str")
    out = nz.hash_identifiers(np.array(["email"] * 4, dtype=object), values)
    assert out.type == pa.large_string()
    assert out.to_pylist() == [hash_identifier("email", "a@b.ru"), None, None, out[0].as_py()]
    assert out[0].as_py() == hashlib.sha256(b"email:a@b.ru").hexdigest()
    assert nz.hash_identifiers([], []).to_pylist() == []
    with pytest.raises(ValueError, match="kind"):
        nz.hash_identifiers(["em:ail"], ["x"])
    with pytest.raises(ValueError, match="kind"):
        nz.hash_identifiers([""], ["x"])
    with pytest.raises(ValueError, match="length"):
        nz.hash_identifiers(["email"], [])
    with pytest.raises(ValueError, match="empty"):
        nz.identifier_digests(["email"], [""])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("email"), _EMAIL_TEXT), st.tuples(st.just("phone"), _WORLD_PHONES)
        ),
        max_size=12,
    ),
    st.sampled_from(["RU", "BY", "US"]),
)
def test_mask_identifiers_equals_scalar_masks_of_normalized_values(
    rows: list[tuple[str, str]], region: str
) -> None:
    """Batch masks of normalized values == mask_email / mask_phone, no parse needed."""
    normalized = [
        (k, normalize_email(v) if k == "email" else normalize_phone(v, region)) for k, v in rows
    ]
    got = nz.mask_identifiers(
        [k for k, _ in normalized], [v for _, v in normalized], region
    ).to_pylist()
    expected = [
        None if v is None else (mask_email(v) if k == "email" else mask_phone(v, region))
        for k, v in normalized
    ]
    assert got == expected
    # ... and equal to the scalar masks of the raw values (which normalize first).
    raw_expected = [mask_email(v) if k == "email" else mask_phone(v, region) for k, v in rows]
    assert [g for g, (_, v) in zip(got, normalized, strict=True) if v is not None] == [
        r for r, (_, v) in zip(raw_expected, normalized, strict=True) if v is not None
    ]


@pytest.mark.parametrize(
    ("kind", "value", "masked"),
    [
        ("phone", "+375291234567", "+375291***567"),
        ("phone", "+79151234567", "+7915***4567"),
        ("phone", "+12025550123", "+1202***0123"),
        ("phone", "+4930123456", "+4930***456"),
        ("phone", "+70000000000", "+7000***0000"),  # E.164 shape: masked as given
        ("phone", "8 915 123-45-67", "+7915***4567"),  # not normalized: scalar answer
        ("phone", "+0123", None),
        ("email", "ivan.petrov@mail.ru", "iv***@mail.ru"),
        ("email", "иван@почта.рф", "ив***@почта.рф"),
        ("email", "no-at-sign", None),
        ("email", "", None),
        ("email", None, None),
    ],
)
def test_mask_identifiers_examples(kind: str, value: str | None, masked: str | None) -> None:
    assert nz.mask_identifiers([kind], [value]).to_pylist() == [masked]


def test_mask_identifiers_does_not_parse_normalized_phones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_parse(*args: object, **kwargs: object) -> None:
        raise AssertionError("phonenumbers.parse called")

    monkeypatch.setattr(phonenumbers, "parse", no_parse)
    values = ["+79151234567", "+375291234567", "+380501234567", "+12025550123", None]
    out = nz.mask_identifiers(["phone"] * len(values), values).to_pylist()
    assert out == ["+7915***4567", "+375291***567", "+380501***567", "+1202***0123", None]


def test_mask_identifiers_errors() -> None:
    with pytest.raises(ValueError, match="kind"):
        nz.mask_identifiers(["fax"], ["+79151234567"])
    with pytest.raises(ValueError):
        nz.mask_identifiers(["phone"], ["+79151234567"], "XX")
    assert nz.mask_identifiers([], []).to_pylist() == []
