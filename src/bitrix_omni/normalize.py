"""Normalization of e-mails and phone numbers for identity resolution.

Records from 1C-Bitrix (site users, checkout properties of orders, CRM contacts and leads
with their ``b_crm_field_multi`` values) are linked into one customer when they share a
normalized e-mail or phone. The normalized value is therefore a *join key*: a junk value
that survives normalization (``+7 (000) 000-00-00``, ``noemail@mail.ru``, ``NaN``) would
merge strangers into one customer, while a missed real value only loses one link. Every
rule below favours precision over recall: when in doubt the function returns ``None``
("not an identifier").

Public API
----------
* :func:`normalize_email` / :func:`normalize_phone`: scalar normalization, ``None`` when
  the value is not a usable identifier.
* :func:`normalize_emails` / :func:`normalize_phones`: the same for whole columns (pandas
  Series, pyarrow arrays, numpy arrays, lists). They return a ``pyarrow`` string array of
  the same length with nulls for invalid values, normalize every *distinct* raw value once,
  and take vectorized fast paths for the common clean formats. Property tests check that
  the fast paths agree with the scalar functions on every input they accept.
* :func:`extract_phones`: every distinct valid phone found in a free-text field.
* :func:`mask_email` / :func:`mask_phone`: human-readable masked forms for explanations.
* :func:`hash_identifier`: a SHA-256 pseudonym, so personal data need not be copied around
  in clear where a hash suffices.
* :func:`hash_identifiers` / :func:`identifier_digests` / :func:`mask_identifiers`: the
  same hashes and masks for whole columns of normalized identifiers (each distinct value
  hashed once, in bulk by :mod:`bitrix_omni.kernels`; masks sliced without parsing);
  property tests check that they equal the scalar functions.

The module has no dbt imports (phonenumbers, pyarrow, numpy, and DuckDB in-process for
bulk hashing), so it can be used from dbt Python models, the CLI and notebooks alike.
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from encodings import idna as _idna
from typing import Any, Final

import numpy as np
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc

from bitrix_omni import kernels
from bitrix_omni.arrow import as_large_strings, bool_mask

__all__ = [
    "EMAIL_PLACEHOLDER_LOCAL_PARTS",
    "EMAIL_RESERVED_DOMAINS",
    "EMAIL_RESERVED_TLDS",
    "PHONE_FAST_PATH_REGIONS",
    "as_large_strings",
    "extract_phones",
    "hash_identifier",
    "hash_identifiers",
    "identifier_digests",
    "is_placeholder_phone_nsn",
    "mask_email",
    "mask_identifiers",
    "mask_phone",
    "normalize_email",
    "normalize_emails",
    "normalize_identifier_columns",
    "normalize_phone",
    "normalize_phones",
]

# --------------------------------------------------------------------------------------
# Shared text cleaning
# --------------------------------------------------------------------------------------

#: Invisible characters that copy-paste from messengers, Word and web forms leaves inside
#: values. They are deleted (not replaced by a space) because they never carry meaning.
_INVISIBLE_CHARS: Final = "\u200b\u200c\u200d\u200e\u200f\u2060\ufeff\u00ad"
#: Ideographic full stops that IDNA treats as label separators but NFKC leaves alone.
_EXTRA_DOTS: Final = "\u3002\uff61"
_TRANSLATE: Final[dict[int, str | None]] = {
    **dict.fromkeys(map(ord, _INVISIBLE_CHARS)),
    **dict.fromkeys(map(ord, _EXTRA_DOTS), "."),
}
_WHITESPACE_RUN: Final = re.compile(r"\s+")


def _is_missing(value: object) -> bool:
    """True for ``None``, float/numpy NaN, ``pd.NA`` and ``pd.NaT``.

    pandas 3 stores missing values of string columns as NaN, so NaN reaches these
    functions routinely; it must never be stringified into an identifier (``"nan"``).
    pandas is not imported just to recognise its sentinels.
    """
    if value is None:
        return True
    if isinstance(value, (float, np.floating)):
        return bool(math.isnan(value))
    return type(value).__name__ in {"NAType", "NaTType"}


def _clean_text(text: str) -> str:
    """NFKC-normalize, drop invisible characters, collapse whitespace runs and strip.

    NFKC maps full-width letters, digits, at signs and full stops to ASCII and the
    non-breaking / narrow / figure spaces (U+00A0, U+202F, U+2007) to a plain space;
    Cyrillic is unchanged.
    """
    text = unicodedata.normalize("NFKC", text).translate(_TRANSLATE)
    return _WHITESPACE_RUN.sub(" ", text).strip()


# --------------------------------------------------------------------------------------
# E-mail
# --------------------------------------------------------------------------------------

#: Local parts that people and CRM managers type when there is no e-mail. Different
#: customers share them (``net@net.ru``, ``noemail@mail.ru``), so they must not link.
EMAIL_PLACEHOLDER_LOCAL_PARTS: Final[frozenset[str]] = frozenset(
    {
        "donotreply",
        "do-not-reply",
        "empty",
        "net",
        "nil",
        "no-email",
        "no-mail",
        "no-reply",
        "no.email",
        "no.mail",
        "no_email",
        "no_mail",
        "no_reply",
        "nobody",
        "noemail",
        "nomail",
        "none",
        "nonexistent",
        "noreply",
        "null",
        "test",
        "нет",
    }
)
#: RFC 2606 example domains (and their subdomains) are placeholders by definition.
EMAIL_RESERVED_DOMAINS: Final[frozenset[str]] = frozenset(
    {"example.com", "example.net", "example.org"}
)
#: RFC 2606 / RFC 6761 reserved TLDs plus mDNS ``.local``: never a deliverable mailbox.
EMAIL_RESERVED_TLDS: Final[frozenset[str]] = frozenset(
    {"example", "invalid", "local", "localhost", "test"}
)

_MAILTO_PREFIX: Final = "mailto:"
_ANGLE_ADDR: Final = re.compile(r"<([^<>]*)>")
#: Pairs of wrapping characters removed from both ends (``"ivan@x.ru"``, ``(ivan@x.ru)``).
_WRAPPERS: Final = {('"', '"'), ("'", "'"), ("`", "`"), ("(", ")"), ("[", "]"), ("«", "»")}
#: RFC 5322 dot-atom local part; ``\w`` also admits RFC 6531 (internationalized) letters.
_EMAIL_LOCAL: Final = re.compile(r"[\w!#$%&'*+/=?^`{|}~-]+(?:\.[\w!#$%&'*+/=?^`{|}~-]+)*")
_EMAIL_MAX_LOCAL: Final = 64
_EMAIL_MAX_DOMAIN: Final = 253
_EMAIL_MAX_TOTAL: Final = 254
_LABEL_MAX: Final = 63


def _domain_label_ok(label: str) -> bool:
    """LDH rule extended to Unicode letters: 1-63 alphanumerics/hyphens, no edge hyphen."""
    return (
        0 < len(label) <= _LABEL_MAX
        and not label.startswith("-")
        and not label.endswith("-")
        and all(ch.isalnum() or ch == "-" for ch in label)
    )


def _normalize_domain(domain: str) -> str | None:
    """Validate a lower-cased domain and return it in canonical (Unicode) form.

    Punycode labels (``xn--p1ai``) are decoded to Unicode (``рф``) so that ``почта.рф``
    and ``xn--80a1acny.xn--p1ai`` produce the same key. Unicode was chosen over punycode
    because it is what customers type into Bitrix forms, what SQL ``lower()`` produces on
    the raw column, and what humans can read in explanations.
    """
    if not domain or len(domain) > _EMAIL_MAX_DOMAIN:
        return None
    labels = domain.split(".")
    if len(labels) < 2:
        return None
    out: list[str] = []
    for label in labels:
        if label.startswith("xn--"):
            try:
                label = _idna.ToUnicode(label).lower()
            except (UnicodeError, ValueError):
                return None
        if not _domain_label_ok(label):
            return None
        out.append(label)
    tld = out[-1]
    if len(tld) < 2 or not tld.isalpha():
        return None
    return ".".join(out)


def _is_placeholder_email(local: str, domain: str) -> bool:
    if local in EMAIL_PLACEHOLDER_LOCAL_PARTS:
        return True
    if domain.rsplit(".", 1)[-1] in EMAIL_RESERVED_TLDS:
        return True
    return any(domain == d or domain.endswith("." + d) for d in EMAIL_RESERVED_DOMAINS)


def _strip_email_decorations(text: str) -> str | None:
    """Remove display names, ``mailto:``, wrapping quotes/brackets and trailing punctuation."""
    if "<" in text or ">" in text:
        inner = {m.strip() for m in _ANGLE_ADDR.findall(text) if "@" in m}
        if len(inner) > 1:
            return None  # several different addresses: ambiguous
        if inner:
            text = inner.pop()
        text = text.strip("<> ")
    changed = True
    while changed and text:
        changed = False
        if text[:7].lower() == _MAILTO_PREFIX:
            text = text[7:].split("?", 1)[0].strip()
            changed = True
        stripped = text.rstrip(".,; ").lstrip(",; ")
        if stripped != text:
            text, changed = stripped, True
        if len(text) >= 2 and (text[0], text[-1]) in _WRAPPERS:
            text, changed = text[1:-1].strip(), True
    return text


def _normalize_email_str(raw: str) -> str | None:
    """Scalar e-mail normalization of a Python string (see :func:`normalize_email`)."""
    text = _strip_email_decorations(_clean_text(raw))
    if not text:
        return None
    text = text.lower()
    if text.count("@") != 1 or " " in text or len(text) > _EMAIL_MAX_TOTAL:
        return None
    local, domain = text.split("@")
    if len(local) > _EMAIL_MAX_LOCAL or not _EMAIL_LOCAL.fullmatch(local):
        return None
    canonical_domain = _normalize_domain(domain)
    if canonical_domain is None or _is_placeholder_email(local, canonical_domain):
        return None
    return f"{local}@{canonical_domain}"


def normalize_email(value: str | None) -> str | None:
    """Normalize one e-mail address to its join key, or ``None`` if it is not usable.

    Steps, in order:

    1. ``None``, NaN (float or numpy), ``pd.NA``, non-strings and blank strings give ``None``.
    2. NFKC normalization (a full-width address typed with an Asian IME becomes ASCII);
       invisible characters (zero-width spaces, soft hyphens, BOM) are deleted and all
       Unicode whitespace incl. non-breaking spaces is trimmed.
    3. Decorations are removed: a display name with angle brackets
       (``Ivan <ivan@x.ru>``), a ``mailto:`` prefix (and its ``?subject=`` query), wrapping
       quotes/brackets, trailing dots/commas/semicolons. Several *different* bracketed
       addresses give ``None``.
    4. Lower-casing of the whole address. RFC 5321 allows case-sensitive local parts, but
       no mainstream provider uses them, and Bitrix stores whatever case was typed.
    5. Validation: exactly one ``@``; a dot-atom local part of 1-64 characters (ASCII
       atext or Unicode letters/digits, no leading, trailing or double dots); a domain
       with at least one dot, labels of letters/digits/hyphens and a TLD of >= 2 letters
       (or an ``xn--`` punycode TLD); no spaces; at most 254 characters. IP-literal
       domains and quoted local parts are rejected (never seen from real customers).
    6. Internationalized domains: ``xn--`` labels are decoded, so the result keeps the
       domain as lower-case **Unicode** (``иван@почта.рф``), whichever form was typed.
    7. Placeholders give ``None``: local parts in :data:`EMAIL_PLACEHOLDER_LOCAL_PARTS`
       (``noemail@…``, ``net@net.ru``, ``test@…``) and reserved domains/TLDs
       (``example.com``, ``*.test``, ``*.invalid``, ``*.local``).

    Deliberately **not** done: removing ``+tags`` or dots in Gmail local parts. That
    would raise recall for a few Gmail users, but the rules are provider-specific (Yandex
    treats ``-`` and ``.`` alike, mail.ru neither), a wrong rule merges *different* people,
    and the same person with ``ivan+shop@`` and ``ivan@`` is usually linked by a phone.
    """
    if _is_missing(value) or not isinstance(value, str):
        return None
    return _normalize_email_str(value)


# --------------------------------------------------------------------------------------
# Phone
# --------------------------------------------------------------------------------------

#: Regions for which :func:`normalize_phones` has a vectorized fast path.
PHONE_FAST_PATH_REGIONS: Final[frozenset[str]] = frozenset({"RU"})

#: An extension marker followed by digits; everything from the marker on is dropped.
#: ``(?<![^\W\d_])`` = not preceded by a letter, so ``Max 8 915…`` keeps its digits.
_EXTENSION: Final = re.compile(
    r"""
    [,;(\[]?\s*
    (?<![^\W\d_])
    (?:доб(?:авочный)?|вн(?:утр(?:енний)?)?|ext(?:ension)?|x|\#)
    \s*[.:]?\s*\d{1,7}\b.*$
    """,
    re.IGNORECASE | re.VERBOSE | re.DOTALL,
)
#: ``00`` international call prefix (used across Europe, typed by foreigners in Russia).
#: phonenumbers only knows ``810`` for RU/BY/KZ, so ``00 49 …`` is rewritten to ``+49 …``.
#: No national significant number starts with ``00``, so the rewrite is safe everywhere.
_LEADING_00: Final = re.compile(r"^[^\d+]*00(?=\D*[1-9])")
#: Text made only of digits and the punctuation of a single written number: when
#: ``phonenumbers.parse`` rejects such text the matcher is not asked to look inside it.
_NUMBER_ONLY: Final = re.compile(r"[\d +()\-.]*")
_MIN_PHONE_DIGITS: Final = 5
_MAX_PHONE_TEXT: Final = 250  # phonenumbers refuses longer input
#: Fully ascending / descending digit runs (with wrap-around to 0), e.g. 1234567890.
_ASCENDING: Final = "01234567890"
_DESCENDING: Final = "09876543210"
_MIN_SEQUENCE_LEN: Final = 6
_E164: Final = phonenumbers.PhoneNumberFormat.E164


def is_placeholder_phone_nsn(nsn: str) -> bool:
    """True if a national significant number is a typed-in placeholder, not a phone.

    Rules (applied after ``phonenumbers`` validation, so they only have to catch numbers
    that are *formally valid*):

    * at most two distinct digits: ``9999999999`` (from ``89999999999``), ``9000000000``,
      ``9111111111``; real numbers with only two distinct digits are vanishingly rare,
      while these placeholders are shared by thousands of customers;
    * a fully ascending or descending run, optionally wrapping through 0:
      ``0123456789``, ``1234567890``, ``9876543210``, ``0987654321`` (and their
      shorter slices for countries with shorter numbers, min. 6 digits).

    ``9123456789`` (+7 912 345-67-89) is *not* a placeholder: it is a plausible real
    MTS number and only partly sequential.
    """
    if len(set(nsn)) <= 2:
        return True
    return len(nsn) >= _MIN_SEQUENCE_LEN and (nsn in _ASCENDING or nsn in _DESCENDING)


def _coerce_phone_input(value: object) -> str | None:
    """Accept strings and integers (phones read from numeric columns), reject the rest.

    Integral floats (``79151234567.0`` from a numeric column that also holds NaN) are
    converted too; non-integral floats, booleans and other objects give ``None``.
    """
    if _is_missing(value):
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        f = float(value)
        if math.isfinite(f) and f.is_integer():
            return str(int(f))
    return None


def _check_region(default_region: str) -> str:
    region = default_region.upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        # Fail loudly: with an unknown region phonenumbers rejects every national-format
        # number, which would silently drop most identifiers.
        raise ValueError(f"unsupported default_region {default_region!r}")
    return region


def _prepare_phone_text(raw: str) -> str | None:
    text = _clean_text(raw)
    if sum(ch.isdigit() for ch in text) < _MIN_PHONE_DIGITS:
        return None
    text = _EXTENSION.sub("", text).strip()
    text = _LEADING_00.sub("+", text, count=1)
    if len(text) > _MAX_PHONE_TEXT:
        return None
    return text


def _e164_unless_placeholder(number: phonenumbers.PhoneNumber) -> str | None:
    """E.164 of a number already known to be valid, ``None`` for placeholders."""
    if is_placeholder_phone_nsn(phonenumbers.national_significant_number(number)):
        return None
    return phonenumbers.format_number(number, _E164)


def _matched_phones(text: str, region: str) -> list[str]:
    """Distinct valid, non-placeholder numbers found in free text, in order of appearance."""
    found: dict[str, None] = {}
    # The matcher's default leniency (VALID) only yields numbers that pass is_valid_number.
    for match in phonenumbers.PhoneNumberMatcher(text, region):
        e164 = _e164_unless_placeholder(match.number)
        if e164 is not None:
            found[e164] = None
    return list(found)


def _normalize_phone_str(raw: str, region: str) -> str | None:
    """Scalar phone normalization of a Python string; ``region`` already validated.

    This is the slow path of :func:`normalize_phones`; tests count its calls.
    """
    text = _prepare_phone_text(raw)
    if text is None:
        return None
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is not None and phonenumbers.is_valid_number(number):
        return _e164_unless_placeholder(number)
    if _NUMBER_ONLY.fullmatch(text):
        # Nothing but digits and number punctuation, and not a valid number: carving a
        # shorter number out of it would be a guess (precision first).
        return None
    # Text around the digits ("тел. 8 915 … Иван") defeats parse(); the matcher finds
    # numbers inside text. More than one distinct number is ambiguous -> None.
    found = _matched_phones(text, region)
    return found[0] if len(found) == 1 else None


def normalize_phone(value: str | None, default_region: str = "RU") -> str | None:
    """Normalize one phone number to E.164 (``+79151234567``), or ``None`` if unusable.

    ``default_region`` (ISO 3166 code, case-insensitive) is the country assumed for
    numbers written without an international prefix; an unknown region raises
    ``ValueError``. Numbers with ``+``, ``810`` or ``00`` keep their own country.

    Steps:

    1. ``None``/NaN/``pd.NA``/blank give ``None``; integers (and integral floats) from
       numeric columns are accepted as their decimal digits; other types give ``None``.
    2. NFKC normalization, invisible characters deleted, whitespace (incl. non-breaking)
       collapsed. Fewer than 5 digits gives ``None`` (``0``, ``-``, ``нет``).
    3. Extensions are dropped: ``доб. 12``, ``доб 12``, ``(доб.12)``, ``вн. 12``,
       ``ext. 12``, ``x12``, ``#12``; an extension is not part of the customer's identity.
    4. A leading ``00`` international prefix becomes ``+`` (``00 49 30 …`` -> ``+4930…``).
    5. ``phonenumbers.parse`` with ``default_region``: this covers ``8 (915) 123-45-67``,
       ``+7 915 1234567``, ``7(915)1234567``, ``89151234567``, ``9151234567`` (10 digits
       in RU -> +7), ``+7 8 915 …`` and foreign numbers (``+375 29 …``, ``+380 …``).
       If parsing fails or gives an invalid number and the text holds more than digits
       and number punctuation (``+ ( ) - .`` and spaces), ``PhoneNumberMatcher`` looks for
       numbers inside the text (``тел. 8 915 123-45-67 Иван``); exactly one distinct
       valid number is returned, several (``8 915 …, 8 916 …``) give ``None`` because the
       field is ambiguous (use :func:`extract_phones` to get all of them).
    6. ``phonenumbers.is_valid_number`` must hold (this rejects too short/long numbers and
       unallocated ranges such as +7 0xx/1xx/2xx/5xx/6xx), then placeholders are rejected
       with :func:`is_placeholder_phone_nsn` (``+7 (000) 000-00-00``, ``89999999999``,
       ``+7 111 111 11 11``, ``1234567890``).

    Note that +7 is shared by Russia and Kazakhstan: ``8 701 …`` is a valid Kazakh
    mobile and is returned as ``+7701…``.
    """
    region = _check_region(default_region)
    text = _coerce_phone_input(value)
    if text is None:
        return None
    return _normalize_phone_str(text, region)


def extract_phones(value: str | None, default_region: str = "RU") -> list[str]:
    """Every distinct valid, non-placeholder phone in a free-text field, as E.164.

    Bitrix ``PERSONAL_PHONE`` and CRM comment fields often hold several numbers
    (``8 915 123-45-67, 8 (495) 123-45-67``). :func:`normalize_phone` returns ``None``
    for such values (precision); callers that want one identifier per number use this.
    A value that :func:`normalize_phone` accepts yields exactly that one number.
    """
    region = _check_region(default_region)
    raw = _coerce_phone_input(value)
    if raw is None:
        return []
    single = _normalize_phone_str(raw, region)
    if single is not None:
        return [single]
    text = _clean_text(raw)
    if len(text) > 10 * _MAX_PHONE_TEXT:
        return []
    return _matched_phones(text, region)


# --------------------------------------------------------------------------------------
# Vectorized batch normalization
# --------------------------------------------------------------------------------------

_STRING_TYPES: Final = (pa.string(), pa.large_string())


def _coerce_email_input(value: object) -> str | None:
    return None if _is_missing(value) or not isinstance(value, str) else value


def _to_string_array(values: Any, coerce: Callable[[object], str | None]) -> pa.Array:
    """Convert a column-like input to a pyarrow string / large_string / dictionary array.

    Strings are converted zero-copy where pyarrow allows; NaN/None/pd.NA become nulls
    (``from_pandas=True``). Integer arrays are cast to their decimal digits, which matches
    the scalar functions. Anything else (mixed object columns, floats, booleans) goes
    through the scalar ``coerce`` function element by element.
    """
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks else pa.array([], pa.string())
    if not isinstance(values, pa.Array):
        try:
            values = pa.array(values, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
            return pa.array([coerce(v) for v in values], type=pa.string())
    typ = values.type
    is_string_view = getattr(pa.types, "is_string_view", None)  # pyarrow >= 16
    if is_string_view is not None and is_string_view(typ):
        values, typ = values.cast(pa.string()), pa.string()
    if pa.types.is_dictionary(typ) and typ.value_type in _STRING_TYPES:
        return values
    if typ in _STRING_TYPES:
        return values
    if pa.types.is_null(typ):
        return pa.nulls(len(values), pa.string())
    if pa.types.is_integer(typ) and coerce is _coerce_phone_input:
        return pc.cast(values, pa.string())
    return pa.array([coerce(v) for v in values.to_pylist()], type=pa.string())


def _dictionary_parts(arr: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Split into (distinct values, indices); null inputs get null indices."""
    encoded = arr if pa.types.is_dictionary(arr.type) else pc.dictionary_encode(arr)
    return encoded.dictionary, encoded.indices


def _run_batch(
    values: Any,
    coerce: Callable[[object], str | None],
    normalize_uniques: Callable[[pa.Array], pa.Array],
) -> pa.Array:
    """Dictionary-encode, normalize the distinct values once, take the results back."""
    arr = _to_string_array(values, coerce)
    uniques, indices = _dictionary_parts(arr)
    normalized = normalize_uniques(uniques)
    result = pc.take(normalized, indices)
    out_type = pa.large_string() if uniques.type == pa.large_string() else pa.string()
    return result if result.type == out_type else result.cast(out_type)


def _slow_fill(
    uniques: pa.Array,
    fast_mask: np.ndarray,
    fast_values: pa.Array,
    slow: Callable[[str], str | None],
) -> pa.Array:
    """Complete fast-path results with the scalar function on the remaining uniques."""
    present = ~np.asarray(uniques.is_null().to_numpy(zero_copy_only=False))
    slow_mask = present & ~fast_mask
    if not slow_mask.any():
        return fast_values
    slow_inputs = uniques.filter(pa.array(slow_mask)).to_pylist()
    slow_values = pa.array([slow(s) for s in slow_inputs], type=fast_values.type)
    return pc.replace_with_mask(fast_values, pa.array(slow_mask), slow_values)


# E-mail fast path: plain ASCII addresses that the scalar function would accept verbatim
# apart from lower-casing and trimming. RE2 syntax (pyarrow). Anything else goes to the
# slow path. The edge classes are subsets of what the scalar function strips: Unicode
# spaces (NFKC maps them to a space), invisible characters (deleted), leading ",;" and
# trailing ".,;".
_FAST_EDGE_SPACE: Final = (
    r"\t\n\v\f\r \x{a0}\x{2000}-\x{200f}\x{202f}\x{205f}\x{2060}\x{3000}\x{feff}\x{ad}"
)
_EMAIL_FAST_EDGES: Final = rf"^[{_FAST_EDGE_SPACE},;]+|[{_FAST_EDGE_SPACE}.,;]+$"
_EMAIL_FAST_RE: Final = (
    r"^[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)


def _email_placeholder_re() -> str:
    """RE2 version of ``_is_placeholder_email`` for lower-cased ASCII addresses."""
    locals_ = "|".join(re.escape(p) for p in sorted(EMAIL_PLACEHOLDER_LOCAL_PARTS))
    domains = "|".join(re.escape(d) for d in sorted(EMAIL_RESERVED_DOMAINS))
    tlds = "|".join(re.escape(t) for t in sorted(EMAIL_RESERVED_TLDS))
    return rf"^(?:{locals_})@|@(?:[^@]*\.)?(?:{domains})$|\.(?:{tlds})$"


_EMAIL_PLACEHOLDER_RE2: Final = _email_placeholder_re()


def _normalize_unique_emails(uniques: pa.Array) -> pa.Array:
    out_type = uniques.type
    core = pc.replace_substring_regex(uniques, _EMAIL_FAST_EDGES, "")
    fast = bool_mask(pc.match_substring_regex(core, _EMAIL_FAST_RE))
    fast &= ~bool_mask(pc.match_substring(core, "xn--", ignore_case=True))
    fast &= bool_mask(pc.less_equal(pc.binary_length(core), _EMAIL_MAX_TOTAL))
    fast &= bool_mask(pc.less_equal(pc.find_substring(core, "@"), _EMAIL_MAX_LOCAL))
    lowered = pc.ascii_lower(core)
    placeholder = bool_mask(pc.match_substring_regex(lowered, _EMAIL_PLACEHOLDER_RE2))
    keep = fast & ~placeholder
    fast_values = pc.if_else(pa.array(keep), lowered, pa.scalar(None, out_type))
    return _slow_fill(uniques, fast, fast_values, _normalize_email_str)


def normalize_emails(values: Any) -> pa.Array:
    """Normalize a column of e-mails; same length and order, null where invalid.

    Accepts a pandas Series, a pyarrow Array/ChunkedArray (incl. dictionary-encoded), a
    numpy array or any iterable of ``str``/``None``/NaN. Returns a **pyarrow** string
    array (``large_string`` if the input was ``large_string``, as pandas 3 ``str`` columns
    are); call ``.to_pandas()`` or ``pd.Series(result, dtype="str")`` if needed. pyarrow
    was chosen because it keeps nulls as nulls (no NaN), is zero-copy into DuckDB and
    pandas, and avoids a Python object per row at tens of millions of rows.

    Every distinct raw value is normalized once (dictionary encoding). Plain ASCII
    addresses are handled by a vectorized fast path (RE2 validation + lower-casing +
    placeholder check); everything else by :func:`normalize_email`. Both give identical
    results (property-tested).
    """
    return _run_batch(values, _coerce_email_input, _normalize_unique_emails)


# Phone fast path (RU): national significant numbers that phonenumbers always accepts as
# valid Russian numbers: mobile 90x-92x, 931-939, 94x-99x (930 has unallocated blocks)
# and the geographic ABC codes of the RU fixed-line pattern (3xx, 4xx, 8xx; not 7xx, which
# is Kazakhstan, nor 800/803/804/808/809 toll-free/premium). Each accepted 3-digit code is
# valid for any 7 following digits; tests check this against the installed metadata.
_RU_FAST_MOBILE: Final = r"9(?:[0-24-9]\d|3[1-9])"
_RU_FAST_GEO: Final = (
    r"3(?:0[12]|36|4[1-35-79]|5[1-3]|65|8[1-58]|9[0145])"
    r"|4(?:01|1[1356]|2[13467]|7[1-5]|8[1-7]|9[1-689])"
    r"|8(?:1[1-8]|2[01]|3[13-6]|4[0-8]|5[15-7]|6[0-35-79]|7[1-37-9])"
)
#: Before the shape test the fast path maps the whitespace that the scalar function
#: collapses (tabs, NBSP, thin/figure/narrow/ideographic spaces: NFKC maps them to a space)
#: to a space, deletes invisible characters and cuts a trailing extension. These RE2
#: patterns mirror ``_clean_text`` and ``_EXTENSION``; they may only ever match *less*
#: than the Python ones (ASCII ``\d``, `` *`` instead of ``\s*``, extension at the very end).
_FAST_SPACES: Final = r"[\t\n\v\f\r\x{a0}\x{2000}-\x{200a}\x{202f}\x{205f}\x{3000}]"
_FAST_INVISIBLE: Final = r"[\x{ad}\x{200b}-\x{200f}\x{2060}\x{feff}]"
_FAST_EXTENSION: Final = (
    r"(?i)[,;(\[]? *(?:доб(?:авочный)?|вн(?:утр(?:енний)?)?|ext(?:ension)?|x|#)"
    r" *[.:]? *[0-9]{1,7}\)? *$"
)
#: String shape accepted by the fast path (after the clean-up above): optional leading
#: spaces and one leading ``+``, then only digits, spaces, hyphens and parentheses.
_RU_FAST_SHAPE: Final = r"^ *\+?[0-9 ()\-]+$"
#: Digits (with the leading ``+`` kept) accepted by the fast path: ``+7``/``7``/``8`` +
#: mobile-or-geographic national number, or a bare 10-digit mobile number.
_RU_FAST_DIGITS: Final = (
    rf"^(?:(?:\+7|[78])(?:{_RU_FAST_MOBILE}|{_RU_FAST_GEO})|{_RU_FAST_MOBILE})\d{{7}}$"
)
#: Text-wrapped numbers (``тел. 8 915 123-45-67 Иван``): words around the number are
#: only Cyrillic letters, spaces and plain punctuation (no Latin letters, which the
#: matcher treats specially, no digits, brackets or ``+``: nothing that could start a
#: second number); the number itself has at most one bracket pair and nothing the
#: matcher reads as page ranges (``12-15 (3``). ``phonenumbers`` then finds exactly this
#: number; property tests compare with the scalar function.
_TEXT_WORDS: Final = r"""[\p{Cyrillic} .,:;!?\-\x{2013}\x{2014}"'\x{ab}\x{bb}]*"""
_RU_FAST_IN_TEXT: Final = (
    rf"^(?P<pre>{_TEXT_WORDS})(?P<run>[+(]?[0-9](?:[0-9 ()\-]*[0-9])?)(?P<post>{_TEXT_WORDS})$"
)
_RU_FAST_RUN_BRACKETS: Final = r"^\+?[0-9 \-]*(?:\([0-9 \-]*\)[0-9 \-]*)?$"
_PUB_PAGES: Final = r"[0-9]{1,5}-+[0-9]{1,5} {0,4}\([0-9]{1,4}"
_RU_FAST_MAX_LEN: Final = 64
#: Any character other than those of a plainly written number.
_NOT_NUMBER_CHAR: Final = r"[^0-9 ()+\-]"
_RU_NSN_LEN: Final = 10
_RU_SEQUENCES: Final = pa.array(
    sorted(
        {
            s[i : i + _RU_NSN_LEN]
            for s in (_ASCENDING, _DESCENDING)
            for i in range(len(s) - _RU_NSN_LEN + 1)
        }
    ),
    pa.large_string(),
)


def _ru_fast_phones(uniques: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """Vectorized RU fast path: (accepted mask, ``+7`` + NSN or null) per unique value."""
    out_type = uniques.type
    # Most values hold nothing but digits, spaces, "+", "(", ")", "-": the clean-up and
    # in-text steps run on the others only.
    body = uniques
    other = np.flatnonzero(bool_mask(pc.match_substring_regex(uniques, _NOT_NUMBER_CHAR)))
    if other.size:
        sub = pc.replace_substring_regex(uniques.take(pa.array(other)), _FAST_SPACES, " ")
        sub = pc.replace_substring_regex(sub, _FAST_INVISIBLE, "")
        sub = pc.replace_substring_regex(sub, _FAST_EXTENSION, "", max_replacements=1)
        sub_shape = bool_mask(pc.match_substring_regex(sub, _RU_FAST_SHAPE))
        # Numbers inside words: the number part replaces the text where it qualifies.
        parts = pc.extract_regex(sub, _RU_FAST_IN_TEXT)
        run = pc.struct_field(parts, "run")
        in_text = ~sub_shape & bool_mask(pc.is_valid(parts))
        in_text &= bool_mask(pc.match_substring_regex(run, _RU_FAST_RUN_BRACKETS))
        in_text &= ~bool_mask(pc.match_substring_regex(run, _PUB_PAGES))
        sub = pc.if_else(pa.array(in_text), run.cast(sub.type), sub)
        mask = np.zeros(len(uniques), dtype=bool)
        mask[other] = True
        body = pc.replace_with_mask(uniques, pa.array(mask), sub.cast(out_type))
    shape_ok = bool_mask(pc.less_equal(pc.binary_length(body), _RU_FAST_MAX_LEN))
    shape_ok &= bool_mask(pc.match_substring_regex(body, _RU_FAST_SHAPE))
    # Digits with the leading "+" kept; literal removal is ~4x faster than a regex, and
    # only matters where shape_ok holds (only digits, "+", " ", "(", ")", "-" are left).
    marked = body
    for char in " ()-":
        marked = pc.replace_substring(marked, char, "")
    accepted = shape_ok & bool_mask(pc.match_substring_regex(marked, _RU_FAST_DIGITS))
    idx = np.flatnonzero(accepted)
    nsn = as_large_strings(
        pc.utf8_slice_codeunits(pc.take(marked, pa.array(idx)), start=-_RU_NSN_LEN)
    )
    # Placeholder rule of is_placeholder_phone_nsn, vectorized on the NSNs' bytes (ten
    # ASCII digits each): a bit per digit present, then the number of bits set; and a
    # lookup among the 10-digit ascending/descending sequences.
    offsets = np.frombuffer(nsn.buffers()[1], dtype=np.int64)[
        nsn.offset : nsn.offset + len(idx) + 1
    ]
    digits = np.frombuffer(nsn.buffers()[2] or b"", dtype=np.uint8)[offsets[0] : offsets[-1]]
    bits = (
        np.bitwise_or.reduce(
            np.left_shift(1, digits.reshape(-1, _RU_NSN_LEN).astype(np.int32) - ord("0")), axis=1
        )
        if len(idx)
        else np.zeros(0, dtype=np.int32)
    )
    distinct = np.zeros(len(idx), dtype=np.int8)
    for bit in range(10):
        distinct += ((bits >> bit) & 1).astype(np.int8)
    placeholder = (distinct <= 2) | bool_mask(pc.is_in(nsn, value_set=_RU_SEQUENCES))
    e164 = pc.binary_join_element_wise(pa.scalar("+7", nsn.type), nsn, pa.scalar("", nsn.type))
    e164 = pc.if_else(pa.array(~placeholder), e164, pa.scalar(None, e164.type))
    full = pa.nulls(len(uniques), out_type)
    if len(idx):
        full = pc.replace_with_mask(full, pa.array(accepted), e164.cast(out_type))
    return accepted, full


def normalize_phones(values: Any, default_region: str = "RU") -> pa.Array:
    """Normalize a column of phones to E.164; same length and order, null where invalid.

    Input and output types as in :func:`normalize_emails` (pyarrow string array; integer
    columns are accepted as digits). Every distinct raw value is normalized once.

    For ``default_region="RU"`` a vectorized fast path handles the common clean formats
    without calling ``phonenumbers`` (tens of microseconds per call): strings made only of
    digits, spaces (incl. non-breaking), ``-``, ``(``, ``)`` and one leading ``+``,
    optionally followed by an extension (``доб. 12``, ``ext 12``, ``x12``, ``#12``; it is
    dropped), whose digits are ``7``/``8``/``+7`` followed by a Russian mobile (9xx except
    930) or geographic (ABC 3xx, 4xx, 8xx) national number, or a bare 10-digit mobile
    number; the placeholder rule is applied vectorized. Everything else (other text,
    foreign numbers, 7xx Kazakh numbers, toll-free 8-800, odd lengths) goes to
    :func:`normalize_phone`. The fast path only accepts inputs for which
    :func:`normalize_phone` gives the same answer (property-tested); other regions use
    the slow path for every distinct value.
    """
    region = _check_region(default_region)
    return _run_batch(
        values, _coerce_phone_input, lambda uniques: _normalize_unique_phones(uniques, region)
    )


def _normalize_unique_phones(uniques: pa.Array, region: str) -> pa.Array:
    """Distinct raw phones -> E.164 or null: fast path where it applies, else scalar."""
    if region in PHONE_FAST_PATH_REGIONS:
        fast_mask, fast_values = _ru_fast_phones(uniques)
    else:
        fast_mask = np.zeros(len(uniques), dtype=bool)
        fast_values = pa.nulls(len(uniques), uniques.type)
    return _slow_fill(uniques, fast_mask, fast_values, lambda s: _normalize_phone_str(s, region))


# --------------------------------------------------------------------------------------
# Masking and hashing
# --------------------------------------------------------------------------------------

_MASK: Final = "***"


def mask_email(value: str | None) -> str | None:
    """Masked e-mail for explanations, e.g. ``ivan.petrov@mail.ru`` -> ``iv***@mail.ru``.

    The value is normalized first (so raw input is fine); ``None`` if it is not a valid
    e-mail. At most the first two characters of the local part are kept (one if the local
    part is shorter than four), the domain is kept because it is rarely identifying and
    explains a match ("both on corp.ru"). A fixed ``***`` hides the local part's length.
    """
    email = normalize_email(value)
    if email is None:
        return None
    local, domain = email.split("@")
    keep = 2 if len(local) >= 4 else 1
    return f"{local[:keep]}{_MASK}@{domain}"


def mask_phone(value: str | None, default_region: str = "RU") -> str | None:
    """Masked phone for explanations, e.g. ``8 (915) 123-45-67`` -> ``+7915***4567``.

    The value is normalized first; ``None`` if it is not a valid phone. The country code
    is kept, then at most 3 leading (operator / area code) and 4 trailing digits of the
    national number, hiding at least 3 digits and at least 30% of them: a 10-digit RU
    number shows 3+4, a 9-digit BY number 3+3, an 8-digit number 2+3.
    """
    e164 = normalize_phone(value, default_region)
    if e164 is None:
        return None
    number = phonenumbers.parse(e164)
    nsn = phonenumbers.national_significant_number(number)
    hidden = max(3, math.ceil(len(nsn) * 0.3))
    shown = max(0, len(nsn) - hidden)
    head = min(3, shown // 2)
    tail = min(4, shown - head)
    suffix = nsn[len(nsn) - tail :] if tail else ""
    return f"+{number.country_code}{nsn[:head]}{_MASK}{suffix}"


def hash_identifier(kind: str, value: str, salt: str = "") -> str:
    """SHA-256 hex digest of ``f"{salt}{kind}:{value}"`` (UTF-8) as a pseudonymous key.

    ``kind`` (``"email"``, ``"phone"``) namespaces the hash so that equal strings of
    different kinds never collide. Pass *normalized* values: hashing does not normalize.
    The salt is simply prepended so the same key can be computed in SQL
    (DuckDB: ``sha256(salt || kind || ':' || value)``; Postgres:
    ``encode(sha256(convert_to(salt || kind || ':' || value, 'UTF8')), 'hex')``).

    Without a secret salt the hash is only a pseudonym, not anonymization: the phone
    space is small enough (~10^10 per country) to brute-force. Use a per-deployment secret
    salt for anything leaving the warehouse.

    Raises ``ValueError`` for an empty ``kind``/``value`` or a ``kind`` containing ``:``
    (an empty value would hash to one shared "identifier" and merge everyone).
    """
    if not kind or ":" in kind:
        raise ValueError(f"invalid identifier kind {kind!r}")
    if not isinstance(value, str) or not value:
        raise ValueError("cannot hash an empty identifier")
    return hashlib.sha256(f"{salt}{kind}:{value}".encode()).hexdigest()


# --------------------------------------------------------------------------------------
# Vectorized hashing and masking of normalized identifiers
# --------------------------------------------------------------------------------------

#: The identifier kinds of :func:`normalize_identifier_columns`.
IDENTIFIER_KINDS: Final = ("email", "phone")
#: Country calling codes by length: E.164 codes are prefix-free, so the first of the 1-,
#: 2- and 3-digit prefixes found here is the code ``phonenumbers.parse`` extracts.
_COUNTRY_CODES: Final = tuple(
    pa.array(
        sorted(str(c) for c in phonenumbers.COUNTRY_CODE_TO_REGION_CODE if len(str(c)) == k),
        pa.large_string(),
    )
    for k in (1, 2, 3)
)
_E164_SHAPE: Final = r"^\+[1-9][0-9]*$"
_EMAIL_SHAPE: Final = r"^[^@]+@[^@]+$"


def _distinct_identifiers(
    kinds: Any, values: Any
) -> tuple[pa.LargeStringArray, pa.LargeStringArray, pa.LargeStringArray, pa.Array]:
    """Distinct ``kind:value`` payloads, their kinds and values, and per row the index of
    its payload (null where the value is null or empty or the kind is null).

    Raises ``ValueError`` for columns of different lengths and, like
    :func:`hash_identifier`, for an empty kind or one containing ``:``.
    """
    kinds, values = as_large_strings(kinds), as_large_strings(values)
    if len(kinds) != len(values):
        raise ValueError(f"kinds and values differ in length: {len(kinds)} != {len(values)}")
    usable = pc.and_(pc.is_valid(values), pc.not_equal(values, pa.scalar("", values.type)))
    values = pc.if_else(usable, values, pa.scalar(None, values.type))
    payload = pc.binary_join_element_wise(kinds, values, pa.scalar(":", pa.large_string()))
    encoded = pc.dictionary_encode(payload)
    uniques = encoded.dictionary
    if len(uniques) == 0:
        empty = pa.array([], pa.large_string())
        return empty, empty, empty, encoded.indices
    u_kinds = pc.replace_substring_regex(uniques, r"(?s):.*$", "", max_replacements=1)
    u_values = pc.replace_substring_regex(uniques, r"^[^:]*:", "", max_replacements=1)
    return uniques, u_kinds, u_values, encoded.indices


def _check_kinds(kinds: pa.LargeStringArray) -> None:
    bad = pc.or_(pc.equal(kinds, pa.scalar("", kinds.type)), pc.match_substring(kinds, ":"))
    if pc.any(bad).as_py():
        raise ValueError(f"invalid identifier kind {pc.filter(kinds, bad)[0].as_py()!r}")


def identifier_digests(kinds: Any, values: Any) -> np.ndarray:
    """SHA-256 digests of ``f"{kind}:{value}"`` per row as an ``(n, 32)`` uint8 array.

    The raw bytes behind :func:`hash_identifiers` for callers that sort or compare hashes
    (identity resolution numbers identifiers by hash). Every row is hashed: pass
    distinct values. Every value must be a non-empty string (``ValueError`` otherwise).
    """
    kinds, values = as_large_strings(kinds), as_large_strings(values)
    if len(kinds) != len(values):
        raise ValueError(f"kinds and values differ in length: {len(kinds)} != {len(values)}")
    _check_kinds(kinds)
    if kinds.null_count or values.null_count or pc.any(pc.equal(values, "")).as_py():
        raise ValueError("cannot hash an empty identifier")
    return kernels.digests(
        pc.binary_join_element_wise(kinds, values, pa.scalar(":", pa.large_string())), "sha256"
    )


def hash_identifiers(kinds: Any, values: Any) -> pa.LargeStringArray:
    """:func:`hash_identifier` (without salt) for whole columns: one hex string per row.

    ``kinds`` and ``values`` are parallel columns (pandas, pyarrow, numpy or lists) of
    kinds and *normalized* values. Rows with a null or empty value (or a null kind) give
    null, so a column of normalized values with nulls for invalid ones can be passed as
    is; an invalid kind raises ``ValueError``. Each distinct (kind, value) is hashed
    once. Returns a ``large_string`` array.
    """
    kinds = as_large_strings(kinds)
    _check_kinds(pc.drop_null(kinds))
    uniques, _, _, indices = _distinct_identifiers(kinds, values)
    return kernels.hex_digests(uniques, "sha256").take(indices)


def _mask_emails_batch(values: pa.LargeStringArray) -> pa.LargeStringArray:
    """:func:`mask_email` of normalized addresses: local part cut to 2 characters (1 if
    shorter than 4) + ``***@`` + domain. Values without the ``local@domain`` shape go
    through :func:`mask_email` itself."""
    shaped = bool_mask(pc.match_substring_regex(values, _EMAIL_SHAPE))
    parts = pc.split_pattern(pc.if_else(pa.array(shaped), values, "@"), "@", max_splits=1)
    flat = pc.list_flatten(parts)
    local = flat.take(pa.array(np.arange(0, 2 * len(values), 2)))
    domain = flat.take(pa.array(np.arange(1, 2 * len(values), 2)))
    head = pc.if_else(
        pc.greater_equal(pc.utf8_length(local), 4),
        pc.utf8_slice_codeunits(local, 0, 2),
        pc.utf8_slice_codeunits(local, 0, 1),
    )
    masked = pc.binary_join_element_wise(head, domain, pa.scalar(_MASK + "@", head.type))
    return _fill_unshaped(values, shaped, masked, mask_email)


def _fill_unshaped(
    values: pa.Array,
    shaped: np.ndarray,
    masked: pa.Array,
    scalar: Callable[[str], str | None],
) -> pa.LargeStringArray:
    """Masks of the shaped values, the scalar function's answer for the others."""
    masked = pc.if_else(pa.array(shaped), masked, pa.scalar(None, pa.large_string()))
    other = ~shaped & bool_mask(pc.is_valid(values))
    if other.any():
        fill = pa.array([scalar(v) for v in values.filter(pa.array(other)).to_pylist()])
        masked = pc.replace_with_mask(masked, pa.array(other), fill.cast(pa.large_string()))
    return masked


def _phone_mask_layout(nsn_digits: int) -> tuple[int, int]:
    """(leading, trailing) digits of the national number that :func:`mask_phone` shows."""
    hidden = max(3, math.ceil(nsn_digits * 0.3))
    shown = max(0, nsn_digits - hidden)
    head = min(3, shown // 2)
    return head, min(4, shown - head)


def _mask_phones_batch(values: pa.LargeStringArray, region: str) -> pa.LargeStringArray:
    """:func:`mask_phone` of normalized E.164 numbers without parsing them.

    The country code is the 1-3 digit prefix found in phonenumbers' country-code table
    (what ``phonenumbers.parse`` does on a ``+`` number); values are grouped by (code
    length, national number length), so each group is cut with fixed positions. Values
    not shaped like E.164 with a known code go through :func:`mask_phone` itself.
    """
    n = len(values)
    shaped = bool_mask(pc.match_substring_regex(values, _E164_SHAPE))
    cc_len = np.zeros(n, dtype=np.int64)
    for k in (3, 2, 1):  # prefix-free codes: at most one length matches
        prefix = pc.utf8_slice_codeunits(values, 1, 1 + k)
        cc_len[bool_mask(pc.is_in(prefix, value_set=_COUNTRY_CODES[k - 1]))] = k
    shaped &= cc_len > 0
    length = np.asarray(
        pc.fill_null(pc.utf8_length(values), 0).to_numpy(zero_copy_only=False), dtype=np.int64
    )
    group = np.where(shaped, cc_len * 1024 + np.minimum(length, 1023), -1)
    pieces: list[pa.Array] = []
    positions: list[np.ndarray] = []
    for key in np.unique(group[group >= 0]).tolist():
        idx = np.flatnonzero(group == key)
        cc, width = divmod(key, 1024)
        head, tail = _phone_mask_layout(width - 1 - cc)
        sub = values.take(pa.array(idx))
        left = pc.utf8_slice_codeunits(sub, 0, 1 + cc + head)
        right = pc.utf8_slice_codeunits(sub, width - tail, width)
        pieces.append(pc.binary_join_element_wise(left, right, pa.scalar(_MASK, left.type)))
        positions.append(idx)
    masked = pa.nulls(n, pa.large_string())
    if pieces:
        joined = pa.concat_arrays(pieces)
        inverse = np.zeros(n, dtype=np.int64)
        inverse[np.concatenate(positions)] = np.arange(len(joined))
        masked = joined.take(pa.array(inverse))
    return _fill_unshaped(values, shaped, masked, lambda v: mask_phone(v, region))


def mask_identifiers(kinds: Any, values: Any, default_region: str = "RU") -> pa.LargeStringArray:
    """:func:`mask_email` / :func:`mask_phone` for whole columns of normalized identifiers.

    ``kinds`` (``'email'`` | ``'phone'``) and ``values`` are parallel columns. For every
    normalized value (an output of :func:`normalize_email` / :func:`normalize_phone`) the
    mask equals the scalar function's (property-tested); it is computed without
    re-normalizing: e-mails are cut at the ``@``, E.164 phones at the country code looked
    up in phonenumbers' table. A value of the normalized *shape* (``x@y``, ``+`` and
    digits with a known country code) is masked as given even when the scalar functions
    would reject it (a blocklisted ``+70000000000`` shows as ``+7000***0000``); other
    values get the scalar function's answer (``None`` when invalid). Null or empty values
    give null; a kind other than ``'email'``/``'phone'`` raises ``ValueError``. Each
    distinct (kind, value) is masked once. Returns a ``large_string`` array.
    """
    region = _check_region(default_region)
    kinds = as_large_strings(kinds)
    _check_kinds(pc.drop_null(kinds))
    _, u_kinds, u_values, indices = _distinct_identifiers(kinds, values)
    if len(u_kinds) == 0:
        return pa.nulls(len(kinds), pa.large_string())
    is_email = bool_mask(pc.equal(u_kinds, "email"))
    is_phone = bool_mask(pc.equal(u_kinds, "phone"))
    if not (is_email | is_phone).all():
        bad = u_kinds.filter(pa.array(~(is_email | is_phone)))[0].as_py()
        raise ValueError(f"cannot mask an identifier of kind {bad!r} (email or phone only)")
    masked = pa.nulls(len(u_kinds), pa.large_string())
    for select, batch in (
        (is_email, _mask_emails_batch),
        (is_phone, lambda v: _mask_phones_batch(v, region)),
    ):
        if select.any():
            part = batch(u_values.filter(pa.array(select)))
            masked = pc.replace_with_mask(masked, pa.array(select), part)
    return masked.take(indices)


def _column_array(values: Any) -> pa.Array | np.ndarray:
    """A column as one arrow array, or as a numpy object array when arrow cannot type it
    (mixed Python objects; the batch normalizers coerce those value by value)."""
    if isinstance(values, pa.ChunkedArray):
        return values.combine_chunks() if values.num_chunks else pa.array([], pa.string())
    if isinstance(values, pa.Array):
        return values
    try:
        arr = pa.array(values, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        return np.asarray(values, dtype=object)
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def _normalize_kind(
    kind: str, raw_values: pa.Array | np.ndarray, rows: np.ndarray, region: str
) -> tuple[pa.LargeStringArray, pa.LargeStringArray, pa.LargeStringArray, np.ndarray]:
    """Distinct normalized values of one kind's rows with their hashes and masks, and per
    row the index of its value (-1 where invalid)."""
    coerce = _coerce_email_input if kind == "email" else _coerce_phone_input
    subset = (
        raw_values.take(pa.array(rows)) if isinstance(raw_values, pa.Array) else raw_values[rows]
    )
    uniques, indices = _dictionary_parts(_to_string_array(subset, coerce))
    del subset  # temporaries go as soon as they are used: both kinds run at once
    normalized = (
        _normalize_unique_emails(uniques)
        if kind == "email"
        else _normalize_unique_phones(uniques, region)
    )
    del uniques
    distinct = pc.dictionary_encode(as_large_strings(normalized))
    del normalized
    per_row = pc.take(distinct.indices, indices)  # null where the raw value is invalid
    del indices
    keys = as_large_strings(distinct.dictionary)
    del distinct
    payloads = pc.binary_join_element_wise(
        pa.scalar(kind, pa.large_string()), keys, pa.scalar(":", pa.large_string())
    )
    hashes = kernels.hex_digests(payloads, "sha256")
    del payloads
    masks = _mask_emails_batch(keys) if kind == "email" else _mask_phones_batch(keys, region)
    return (
        keys,
        hashes,
        masks,
        np.asarray(pc.fill_null(per_row.cast(pa.int64()), -1).to_numpy(zero_copy_only=False)),
    )


def normalize_identifier_columns(
    kinds: Any, raw_values: Any, default_region: str = "RU", *, dictionary: bool = False
) -> tuple[pa.Array, pa.Array, pa.Array]:
    """Normalized value, hash and mask per row of (kind, raw value) columns.

    The same as :func:`normalize_emails` / :func:`normalize_phones` on the rows of each
    kind, then :func:`hash_identifiers` and :func:`mask_identifiers` of the result, but
    computed on distinct values only: each distinct raw value is normalized once, each
    distinct normalized value hashed and masked once, and the three row columns are
    taken from those small arrays. Rows of another kind (or a null kind) give nulls.
    Returns three ``large_string`` arrays of the input's length, or with
    ``dictionary=True`` three dictionary arrays over those small arrays that share one
    ``int32`` index array (no per-row strings: a fraction of the memory, and what
    :func:`bitrix_omni.identity.resolve_identities` reads fastest).
    """
    region = _check_region(default_region)
    kinds = as_large_strings(kinds)
    n = len(kinds)
    raw_values = _column_array(raw_values)
    if len(raw_values) != n:
        raise ValueError(f"kinds and values differ in length: {n} != {len(raw_values)}")
    selections = [
        (kind, np.flatnonzero(bool_mask(pc.equal(kinds, pa.scalar(kind, kinds.type)))))
        for kind in IDENTIFIER_KINDS
    ]
    selections = [(kind, rows) for kind, rows in selections if rows.size]
    if not selections:
        empty = pa.nulls(n, pa.large_string())
        if dictionary:
            empty = pa.DictionaryArray.from_arrays(
                pa.nulls(n, pa.int32()), pa.array([], pa.large_string())
            )
        return empty, empty, empty
    # The kinds are independent; Arrow kernels release the GIL, so they overlap.
    with ThreadPoolExecutor(max_workers=len(selections)) as pool:
        parts = list(
            pool.map(lambda sel: _normalize_kind(sel[0], raw_values, sel[1], region), selections)
        )
    row_index = np.full(n, -1, dtype=np.int64)
    offset = 0
    for (_, rows), (keys, _, _, per_row) in zip(selections, parts, strict=True):
        row_index[rows] = np.where(per_row >= 0, per_row + offset, -1)
        offset += len(keys)
    if dictionary:
        index = pa.array(row_index.astype(np.int32), mask=row_index < 0)
        return tuple(  # type: ignore[return-value]
            pa.DictionaryArray.from_arrays(index, pa.concat_arrays([part[i] for part in parts]))
            for i in range(3)
        )
    index = pa.array(row_index, mask=row_index < 0)
    with ThreadPoolExecutor(max_workers=3) as pool:
        values, hashes, masks = pool.map(
            lambda i: pa.concat_arrays([part[i] for part in parts]).take(index), range(3)
        )
    return values, hashes, masks
