"""Unit tests of the Bitrix-shaped demo-data generator (bitrix_omni.generate) and its CLI.

The generator is the test bed of the whole project, so these tests check the contract other code
relies on: exact columns, CSV dialect, determinism, referential sanity, a complete ground truth,
and that the deliberate dirt (formats, junk values, replica duplicates) is really there.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import tempfile
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bitrix_omni.cli import main
from bitrix_omni.generate import (
    DEFAULT_DAYS,
    DEFAULT_START,
    RECORD_TABLES,
    TABLE_COLUMNS,
    TRUTH_COLUMNS,
    TRUTH_FILE,
    activity_end,
    generate,
)

REPO = Path(__file__).resolve().parents[2]
SOURCES_YML = REPO / "models" / "staging" / "bitrix" / "_bitrix__sources.yml"
N = 2000  # big enough for the 1 % effects (replica duplicates, households) to show up
SEED = 7
WINDOW = ("2024-01-01 00:00:00", "2025-01-01 00:00:00")  # default start + 365 days
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
ZERO_DATETIME = "0000-00-00 00:00:00"

Rows = list[dict[str, str]]


def read_csv(path: Path) -> tuple[list[str], Rows]:
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        return header, [dict(zip(header, row, strict=True)) for row in reader]


def latest(rows: Rows, ts_col: str) -> dict[str, dict[str, str]]:
    """The newest version of each ID (replica duplicates: the later row is the truth)."""
    out: dict[str, dict[str, str]] = {}
    for row in rows:
        prev = out.get(row["ID"])
        if prev is None or row[ts_col] > prev[ts_col]:
            out[row["ID"]] = row
    return out


def norm_phone(value: str) -> str:
    """Digits of a Russian phone as 7XXXXXXXXXX (a tiny stand-in for the real normalizer)."""
    digits = re.sub(r"\D", "", value.split("доб")[0])
    if len(digits) == 11 and digits[0] == "8":
        digits = "7" + digits[1:]
    elif len(digits) == 10 and digits[0] == "9":
        digits = "7" + digits
    return digits


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    out = tmp_path_factory.mktemp("demo")
    return out, generate(out, N, seed=SEED)


@pytest.fixture(scope="module")
def tables(demo: tuple[Path, dict[str, int]]) -> dict[str, Rows]:
    out, _ = demo
    return {name: read_csv(out / f"{name}.csv")[1] for name in TABLE_COLUMNS}


@pytest.fixture(scope="module")
def truth(demo: tuple[Path, dict[str, int]]) -> dict[tuple[str, str], str]:
    out, _ = demo
    header, rows = read_csv(out / TRUTH_FILE)
    assert header == list(TRUTH_COLUMNS)
    pairs = Counter((r["source_table"], r["source_id"]) for r in rows)
    assert max(pairs.values()) == 1, "a record appears twice in the truth file"
    return {(r["source_table"], r["source_id"]): r["person_id"] for r in rows}


# ------------------------------------------------------------------------------ contract


def test_columns_match_the_sources_yaml() -> None:
    yaml = pytest.importorskip("yaml")
    spec = yaml.safe_load(SOURCES_YML.read_text(encoding="utf-8"))
    (bitrix,) = [s for s in spec["sources"] if s["name"] == "bitrix"]
    declared = {t["name"]: [c["name"] for c in t["columns"]] for t in bitrix["tables"]}
    assert {k: list(v) for k, v in TABLE_COLUMNS.items()} == declared


def test_every_file_is_minimal_quoted_csv_with_exact_headers(
    demo: tuple[Path, dict[str, int]],
) -> None:
    out, counts = demo
    expected = {f"{t}.csv" for t in TABLE_COLUMNS} | {TRUTH_FILE}
    assert {p.name for p in out.iterdir()} == expected
    for name in [*TABLE_COLUMNS, TRUTH_FILE.removesuffix(".csv")]:
        text = (out / f"{name}.csv").read_text(encoding="utf-8")
        rows = list(csv.reader(io.StringIO(text, newline="")))
        columns = list(TABLE_COLUMNS.get(name, TRUTH_COLUMNS))
        assert rows[0] == columns, name
        assert all(len(r) == len(columns) for r in rows), name
        # Byte-for-byte what Python's csv module (QUOTE_MINIMAL, "\n") writes for these values.
        again = io.StringIO(newline="")
        csv.writer(again, quoting=csv.QUOTE_MINIMAL, lineterminator="\n").writerows(rows)
        assert again.getvalue() == text, name
        assert counts[name] == len(rows) - 1, name


def test_same_arguments_give_identical_bytes(tmp_path: Path) -> None:
    a = generate(tmp_path / "a", 300, seed=3, days=60)
    b = generate(tmp_path / "b", 300, seed=3, days=60)
    c = generate(tmp_path / "c", 300, seed=4, days=60)
    assert a == b
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "b").iterdir())
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert (
        c != a
        or (tmp_path / "c" / "b_user.csv").read_bytes()
        != (tmp_path / "a" / "b_user.csv").read_bytes()
    )


def test_omitted_tables_are_not_written_and_others_do_not_change(tmp_path: Path) -> None:
    omit = ["b_crm_utm", "b_crm_lead", "bl_email_events"]
    full = generate(tmp_path / "full", 200, seed=5)
    part = generate(tmp_path / "part", 200, seed=5, omit_tables=omit)
    assert part == {k: v for k, v in full.items() if k not in omit} | {
        "_truth_persons": full["_truth_persons"] - full["b_crm_lead"]
    }
    for table in omit:
        assert not (tmp_path / "part" / f"{table}.csv").exists()
    for table in TABLE_COLUMNS:
        if table not in omit:
            full_bytes = (tmp_path / "full" / f"{table}.csv").read_bytes()
            assert (tmp_path / "part" / f"{table}.csv").read_bytes() == full_bytes, table
    _, truth_full = read_csv(tmp_path / "full" / TRUTH_FILE)
    _, truth_part = read_csv(tmp_path / "part" / TRUTH_FILE)
    assert truth_part == [r for r in truth_full if r["source_table"] != "b_crm_lead"]
    with pytest.raises(ValueError, match="unknown tables"):
        generate(tmp_path / "bad", 1, omit_tables=["b_crm_activity"])


def test_parquet_holds_the_same_values_as_csv(tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    pa = pytest.importorskip("pyarrow")
    counts_csv = generate(tmp_path / "csv", 150, seed=9, omit_tables=["b_crm_act"])
    counts_pq = generate(tmp_path / "pq", 150, seed=9, fmt="parquet", omit_tables=["b_crm_act"])
    assert counts_csv == counts_pq
    assert not (tmp_path / "pq" / "b_crm_act.parquet").exists()
    assert (tmp_path / "pq" / TRUTH_FILE).read_bytes() == (
        tmp_path / "csv" / TRUTH_FILE
    ).read_bytes()
    for table, columns in TABLE_COLUMNS.items():
        if table == "b_crm_act":
            continue
        parquet = pq.read_table(tmp_path / "pq" / f"{table}.parquet")
        assert parquet.column_names == list(columns), table
        assert all(f.type == pa.string() for f in parquet.schema), table
        _, rows = read_csv(tmp_path / "csv" / f"{table}.csv")
        expected = [{k: (v if v != "" else None) for k, v in r.items()} for r in rows]
        assert parquet.to_pylist() == expected, table


def test_rerun_removes_stale_table_files_only(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    generate(tmp_path, 20, seed=1)  # csv, every table
    (tmp_path / "README.md").write_text("keep me", encoding="utf-8")
    generate(tmp_path, 20, seed=1, fmt="parquet", omit_tables=["b_crm_utm"])
    names = {p.name for p in tmp_path.iterdir()}
    assert not any(n.endswith(".csv") for n in names - {TRUTH_FILE})
    assert "b_crm_utm.parquet" not in names
    assert {"README.md", TRUTH_FILE, "b_user.parquet"} <= names


def test_parquet_of_an_empty_table_is_readable(tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    generate(tmp_path, 0, fmt="parquet")
    empty = pq.read_table(tmp_path / "b_sale_order.parquet")
    assert empty.num_rows == 0
    assert empty.column_names == list(TABLE_COLUMNS["b_sale_order"])


# ------------------------------------------------------------------------------ relational sanity


def test_references_point_to_existing_rows(tables: dict[str, Rows]) -> None:
    ids = {t: {r["ID"] for r in rows} for t, rows in tables.items() if "ID" in TABLE_COLUMNS[t]}
    basket = tables["b_sale_basket"]
    assert {r["FUSER_ID"] for r in basket} <= ids["b_sale_fuser"]
    assert {r["ORDER_ID"] for r in basket if r["ORDER_ID"]} <= ids["b_sale_order"]
    assert any(r["ORDER_ID"] == "" for r in basket), "no abandoned carts"
    ordered = {r["ORDER_ID"] for r in basket}
    assert ids["b_sale_order"] <= ordered, "an order without basket lines"
    assert {r["USER_ID"] for r in tables["b_sale_order"]} <= ids["b_user"]
    assert {r["USER_ID"] for r in tables["b_sale_fuser"] if r["USER_ID"]} <= ids["b_user"]
    assert any(r["USER_ID"] == "" for r in tables["b_sale_fuser"]), "no anonymous fusers"
    props = {r["ID"] for r in tables["b_sale_order_props"]}
    assert {r["ORDER_PROPS_ID"] for r in tables["b_sale_order_props_value"]} <= props
    assert {r["ORDER_ID"] for r in tables["b_sale_order_props_value"]} == ids["b_sale_order"]
    assert {r["VALUE_ID"] for r in tables["b_uts_user"]} <= ids["b_user"]

    leads, contacts = tables["b_crm_lead"], tables["b_crm_contact"]
    converted = [r for r in leads if r["STATUS_ID"] == "CONVERTED"]
    assert converted and all(r["CONTACT_ID"] in ids["b_crm_contact"] for r in converted)
    assert all(r["STATUS_SEMANTIC_ID"] == "S" for r in converted)
    assert {r["LEAD_ID"] for r in contacts if r["LEAD_ID"]} <= ids["b_crm_lead"]
    assert any(r["LEAD_ID"] == "" for r in contacts), "no directly created contacts"
    assert {r["CONTACT_ID"] for r in tables["b_crm_deal"]} <= ids["b_crm_contact"]
    assert {r["LEAD_ID"] for r in tables["b_crm_deal"] if r["LEAD_ID"]} <= ids["b_crm_lead"]
    uts = tables["b_uts_crm_contact"]
    assert {r["VALUE_ID"] for r in uts} <= ids["b_crm_contact"]
    assert {r["UF_SITE_MEMBER_ID"] for r in uts if r["UF_SITE_MEMBER_ID"]} <= ids["b_user"]
    assert any(r["UF_SITE_MEMBER_ID"] == "" for r in uts)
    owners = {"CONTACT": ids["b_crm_contact"], "LEAD": ids["b_crm_lead"]}
    for r in tables["b_crm_field_multi"]:
        assert r["ELEMENT_ID"] in owners[r["ENTITY_ID"]]
    by_type = {"1": ids["b_crm_lead"], "2": ids["b_crm_deal"], "3": ids["b_crm_contact"]}
    for r in tables["b_crm_act_bind"]:
        assert r["ACTIVITY_ID"] in ids["b_crm_act"]
        assert r["OWNER_ID"] in by_type[r["OWNER_TYPE_ID"]]
    assert {r["ID"] for r in tables["b_crm_act"]} == {
        r["ACTIVITY_ID"] for r in tables["b_crm_act_bind"]
    }
    for r in tables["b_crm_utm"]:
        assert r["ENTITY_ID"] in by_type[r["ENTITY_TYPE_ID"]]

    recipients = tables["b_sender_posting_recipient"]
    assert {r["CONTACT_ID"] for r in recipients} <= ids["b_sender_contact"]
    assert {r["POSTING_ID"] for r in recipients} <= ids["b_sender_posting"]
    for event in ("b_sender_posting_read", "b_sender_posting_click"):
        assert {r["RECIPIENT_ID"] for r in tables[event]} <= ids["b_sender_posting_recipient"]


def test_truth_covers_every_record_once_and_agrees_with_the_links(
    tables: dict[str, Rows], truth: dict[tuple[str, str], str]
) -> None:
    recorded = {(t, r["ID"]) for t in RECORD_TABLES for r in tables[t]}
    assert set(truth) == recorded

    def person(table: str, rec_id: str) -> str:
        return truth[(table, rec_id)]

    assert {p for p in truth.values() if p.startswith("P")} == {f"P{i}" for i in range(1, N + 1)}
    for r in tables["b_sale_fuser"]:
        if r["USER_ID"]:
            assert person("b_user", r["USER_ID"]) == person("b_sale_fuser", r["ID"])
    for r in tables["b_sale_basket"]:
        if r["ORDER_ID"]:
            assert person("b_sale_order", r["ORDER_ID"]) == person("b_sale_fuser", r["FUSER_ID"])
    anon = {r["ID"] for r in tables["b_user"] if r["EXTERNAL_AUTH_ID"] == "saleanonymous"}
    for r in tables["b_sale_order"]:
        if r["USER_ID"] not in anon:
            assert person("b_user", r["USER_ID"]) == person("b_sale_order", r["ID"])
    for r in tables["b_crm_contact"]:
        if r["LEAD_ID"]:
            assert person("b_crm_lead", r["LEAD_ID"]) == person("b_crm_contact", r["ID"])
    for r in tables["b_uts_crm_contact"]:
        if r["UF_SITE_MEMBER_ID"]:
            assert person("b_user", r["UF_SITE_MEMBER_ID"]) == person(
                "b_crm_contact", r["VALUE_ID"]
            )


def test_replica_duplicates_exist_and_the_later_version_is_newer(tables: dict[str, Rows]) -> None:
    for table, ts_col in (
        ("b_user", "TIMESTAMP_X"),
        ("b_sale_order", "DATE_UPDATE"),
        ("b_crm_contact", "DATE_MODIFY"),
    ):
        versions: dict[str, list[dict[str, str]]] = defaultdict(list)
        for row in tables[table]:
            versions[row["ID"]].append(row)
        dups = {k: v for k, v in versions.items() if len(v) > 1}
        assert dups, f"no replica duplicates in {table}"
        assert len(dups) < 0.03 * len(versions), table
        for rows in dups.values():
            assert len(rows) == 2
            old, new = sorted(rows, key=lambda r: r[ts_col])
            assert old[ts_col] < new[ts_col], table
            assert old != new
        if table == "b_sale_order":
            assert all(min(v, key=lambda r: r[ts_col])["STATUS_ID"] == "N" for v in dups.values())


def test_order_price_is_roughly_the_basket_plus_delivery(tables: dict[str, Rows]) -> None:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for r in tables["b_sale_basket"]:
        if r["ORDER_ID"]:
            totals[r["ORDER_ID"]] += Decimal(r["PRICE"]) * Decimal(r["QUANTITY"])
    orders = latest(tables["b_sale_order"], "DATE_UPDATE")
    exact = 0
    for oid, order in orders.items():
        assert order["CURRENCY"] == "RUB"
        diff = totals[oid] + Decimal(order["PRICE_DELIVERY"]) - Decimal(order["PRICE"])
        assert Decimal(0) <= diff < Decimal(1), oid
        exact += diff == 0
    assert exact > 0.9 * len(orders)
    canceled = [o for o in orders.values() if o["CANCELED"].upper() == "Y"]
    assert 0.05 < len(canceled) / len(orders) < 0.15
    assert all(o["DATE_CANCELED"] for o in canceled)


# ------------------------------------------------------------------------------ time


def test_timestamps_are_inside_the_window(tables: dict[str, Rows]) -> None:
    zero_dates = 0
    for table, rows in tables.items():
        for row in rows:
            for col, value in row.items():
                if DATETIME.match(value):
                    if value == ZERO_DATETIME:
                        zero_dates += 1
                        continue
                    assert WINDOW[0] <= value < WINDOW[1], (table, col, value)
    assert zero_dates > 0, "no MySQL zero dates planted"


def test_new_activity_ends_before_the_follow_up_days(tables: dict[str, Rows]) -> None:
    """Orders, carts and devices stop at ``activity_end``; the day before it is an ordinary
    day (benchmarks take their "typical hour" right before it)."""
    end = activity_end(DEFAULT_START, DEFAULT_DAYS)
    assert WINDOW[0] < f"{end}" < WINDOW[1]
    day_before = f"{end - dt.timedelta(days=1)}"
    for table in ("b_sale_order", "b_sale_basket", "b_sale_fuser"):
        created = [
            row["DATE_INSERT"]
            for row in tables[table]
            if DATETIME.match(row["DATE_INSERT"]) and row["DATE_INSERT"] != ZERO_DATETIME
        ]
        assert max(created) < f"{end}", table
        assert sum(day_before <= value for value in created) >= 5, table


def test_events_happen_in_a_sensible_order(tables: dict[str, Rows]) -> None:
    fusers = {r["ID"]: r for r in tables["b_sale_fuser"]}
    orders = latest(tables["b_sale_order"], "DATE_UPDATE")
    for f in fusers.values():
        assert f["DATE_INSERT"] <= f["DATE_UPDATE"]
    for o in orders.values():
        assert o["DATE_INSERT"] <= o["DATE_STATUS"] <= o["DATE_UPDATE"]
    for b in tables["b_sale_basket"]:
        assert fusers[b["FUSER_ID"]]["DATE_INSERT"] <= b["DATE_INSERT"]
        if b["ORDER_ID"]:
            assert b["DATE_INSERT"] <= orders[b["ORDER_ID"]]["DATE_INSERT"]
    last_order: dict[str, str] = {}
    for o in orders.values():
        last_order[o["USER_ID"]] = max(last_order.get(o["USER_ID"], ""), o["DATE_INSERT"])
    for u in latest(tables["b_user"], "TIMESTAMP_X").values():
        assert u["DATE_REGISTER"] <= u["TIMESTAMP_X"]
        if u["EXTERNAL_AUTH_ID"] == "" and u["LAST_LOGIN"] not in ("", ZERO_DATETIME):
            assert u["DATE_REGISTER"] <= u["LAST_LOGIN"] <= u["LAST_ACTIVITY_DATE"]
            assert last_order.get(u["ID"], "") <= u["LAST_LOGIN"], "ordered while logged out?"
    leads = {r["ID"]: r for r in tables["b_crm_lead"]}
    contacts = latest(tables["b_crm_contact"], "DATE_MODIFY")
    for c in contacts.values():
        assert c["DATE_CREATE"] < c["DATE_MODIFY"]
        if c["LEAD_ID"]:
            assert leads[c["LEAD_ID"]]["DATE_CREATE"] <= c["DATE_CREATE"]
    for d in tables["b_crm_deal"]:
        assert contacts[d["CONTACT_ID"]]["DATE_CREATE"] <= d["DATE_CREATE"]
    acts = {r["ID"]: r for r in tables["b_crm_act"]}
    for a in acts.values():
        assert a["CREATED"] <= a["START_TIME"] <= a["END_TIME"]
    for bind in tables["b_crm_act_bind"]:
        if bind["OWNER_TYPE_ID"] == "1":
            assert leads[bind["OWNER_ID"]]["DATE_CREATE"] <= acts[bind["ACTIVITY_ID"]]["CREATED"]


# ------------------------------------------------------------------------------ Bitrix semantics


def test_technical_users_and_anonymous_checkout(tables: dict[str, Rows]) -> None:
    users = tables["b_user"]
    kinds = Counter(r["EXTERNAL_AUTH_ID"] for r in users)
    assert kinds["saleanonymous"] == 1 and kinds["imconnector"] >= 3 and kinds["bot"] >= 1
    (anon,) = [r for r in users if r["EXTERNAL_AUTH_ID"] == "saleanonymous"]
    assert anon["ACTIVE"] == "N"
    assert re.fullmatch(r"anonymous_\d+@example\.com", anon["EMAIL"])
    employees = [r for r in users if r["EMAIL"].endswith("@sportmarket-demo.ru")]
    assert len(employees) >= 4 and all(r["EXTERNAL_AUTH_ID"] == "" for r in employees)

    props = {r["ID"]: r for r in tables["b_sale_order_props"]}
    assert {p["CODE"] for p in props.values() if p["IS_EMAIL"] == "Y"} == {"EMAIL"}
    assert {p["CODE"] for p in props.values() if p["IS_PHONE"] == "Y"} == {"PHONE"}
    assert "FIO" in {p["CODE"] for p in props.values() if p["IS_PAYER"] == "Y"}
    anon_orders = {r["ID"] for r in tables["b_sale_order"] if r["USER_ID"] == anon["ID"]}
    assert len(anon_orders) > 0.2 * len({r["ID"] for r in tables["b_sale_order"]})
    emails = [
        v["VALUE"]
        for v in tables["b_sale_order_props_value"]
        if v["ORDER_ID"] in anon_orders and props[v["ORDER_PROPS_ID"]]["IS_EMAIL"] == "Y"
    ]
    real = [e for e in emails if re.fullmatch(r"[a-z._]+\d+@[a-z.]+", e.strip().lower())]
    assert len(real) > 0.7 * len(emails), "anonymous checkouts should carry real e-mails"


def test_crm_codes_follow_bitrix(tables: dict[str, Rows]) -> None:
    status = tables["b_crm_status"]
    sources = {r["STATUS_ID"] for r in status if r["ENTITY_ID"] == "SOURCE"}
    used = {r["SOURCE_ID"].strip() for r in tables["b_crm_lead"]}
    assert used <= sources
    assert {"CALL", "EMAIL", "WEB", "WEBFORM", "CALLBACK", "STORE", "UC_ABC123"} <= used
    assert {r["STATUS_ID"] for r in tables["b_crm_lead"]} <= {
        r["STATUS_ID"] for r in status if r["ENTITY_ID"] == "STATUS"
    }
    stages = {
        r["STATUS_ID"]: (r["SEMANTICS"] or "P")
        for r in status
        if r["ENTITY_ID"].startswith("DEAL_STAGE")
    }
    for d in tables["b_crm_deal"]:
        assert stages[d["STAGE_ID"]] == d["STAGE_SEMANTIC_ID"]
        assert d["CATEGORY_ID"] == ("1" if d["STAGE_ID"].startswith("C1:") else "0")
    combos = {(r["TYPE_ID"], r["PROVIDER_ID"]) for r in tables["b_crm_act"]}
    assert {
        ("2", "VOXIMPLANT_CALL"),
        ("4", "CRM_EMAIL"),
        ("6", "IMOPENLINES_SESSION"),
        ("6", "CRM_WEBFORM"),
    } <= combos
    assert combos <= {
        ("2", "VOXIMPLANT_CALL"),
        ("4", "CRM_EMAIL"),
        ("6", "IMOPENLINES_SESSION"),
        ("6", "CRM_WEBFORM"),
        ("6", "CRM_TODO"),
    }
    assert {r["DIRECTION"] for r in tables["b_crm_act"]} == {"0", "1", "2"}
    assert {r["OWNER_TYPE_ID"] for r in tables["b_crm_act_bind"]} == {"1", "2", "3"}
    assert {r["ENTITY_TYPE_ID"] for r in tables["b_crm_utm"]} == {"1", "2", "3"}
    assert {r["CODE"] for r in tables["b_crm_utm"]} <= {
        "UTM_SOURCE",
        "UTM_MEDIUM",
        "UTM_CAMPAIGN",
        "UTM_CONTENT",
        "UTM_TERM",
    }
    fm = tables["b_crm_field_multi"]
    assert all(r["COMPLEX_ID"] == f"{r['TYPE_ID']}_{r['VALUE_TYPE']}" for r in fm)
    assert {r["ENTITY_ID"] for r in fm} == {"CONTACT", "LEAD"}
    assert {r["TYPE_ID"] for r in fm} == {"PHONE", "EMAIL", "IM", "WEB"}
    assert any(re.fullmatch(r"imol\|\w+\|1\|\d+\|\d+", r["VALUE"]) for r in fm)


def test_email_marketing_tables(tables: dict[str, Rows]) -> None:
    statuses = Counter(r["STATUS"] for r in tables["b_sender_posting_recipient"])
    assert statuses["N"] > 0.8 * sum(statuses.values())  # N = sent: the letters are inverted
    assert statuses["E"] > 0 and statuses["D"] > 0
    assert all(r["TYPE_ID"] == "1" for r in tables["b_sender_contact"])
    assert all("utm_source=" in r["URL"] for r in tables["b_sender_posting_click"])
    events = tables["bl_email_events"]
    assert {"delivered", "open", "click", "bounce"} <= {r["EVENT_TYPE"] for r in events}
    assert {r["ESP"] for r in events} == {"unisender", "sendpulse"}
    for r in events:
        assert (r["URL"] != "") == (r["EVENT_TYPE"] == "click")
        if r["URL"]:
            assert "utm_source=email" in r["URL"]


def test_rough_shares_of_the_world(
    tables: dict[str, Rows], truth: dict[tuple[str, str], str]
) -> None:
    def persons_with(table: str) -> set[str]:
        return {p for (t, _), p in truth.items() if t == table and p[0] == "P"}

    assert 0.5 < len(persons_with("b_user")) / N < 0.7  # ~60 % register
    assert 0.4 < len(persons_with("b_crm_lead")) / N < 0.6  # ~50 % have a lead
    assert len(persons_with("b_sale_fuser")) == N  # everybody visits the shop
    buyers = len(persons_with("b_sale_order"))
    assert 0.4 < buyers / N < 0.7  # many persons never order
    per_person = Counter(p for (t, _), p in truth.items() if t == "b_sale_order")
    assert max(per_person.values()) <= 5


# ------------------------------------------------------------------------------ dirt


def test_messy_values_are_present(
    tables: dict[str, Rows], truth: dict[tuple[str, str], str]
) -> None:
    props = {r["ID"]: r for r in tables["b_sale_order_props"]}
    pv = tables["b_sale_order_props_value"]
    fm = tables["b_crm_field_multi"]
    users = tables["b_user"]
    phones = [v["VALUE"] for v in pv if props[v["ORDER_PROPS_ID"]]["IS_PHONE"] == "Y"]
    phones += [r["VALUE"] for r in fm if r["TYPE_ID"] == "PHONE"]
    phones += [u[c] for u in users for c in ("PERSONAL_PHONE", "PERSONAL_MOBILE") if u[c]]
    for pattern in (
        r"\+7 \(9\d\d\) \d{3}-\d\d-\d\d",  # +7 (915) 123-45-67
        r"89\d{9}",  # 89151234567
        r"8 9\d\d \d{3} \d\d \d\d",  # 8 915 123 45 67
        r"9\d{9}",  # 9151234567
        r"7\(9\d\d\)\d{7}",  # 7(915)1234567
        r"\+7 9\d\d \d{3}-\d\d-\d\d доб\. \d+",  # with an extension
        r"\+375.*",
        r"\+380.*",
        r"\+49.*",
    ):
        assert any(re.fullmatch(pattern, p) for p in phones), pattern
    assert {"+7 (000) 000-00-00", "0", "89999999999"} & set(phones)
    shop_phone_owners = {r["ELEMENT_ID"] for r in fm if norm_phone(r["VALUE"]) == "78005550123"}
    assert len(shop_phone_owners) >= 3, "the shop's own phone in many CRM cards"

    emails = [v["VALUE"] for v in pv if props[v["ORDER_PROPS_ID"]]["IS_EMAIL"] == "Y"]
    emails += [r["VALUE"] for r in fm if r["TYPE_ID"] == "EMAIL"] + [u["EMAIL"] for u in users]
    assert any(e != e.strip() for e in emails)
    assert any(e.startswith("mailto:") for e in emails)
    assert any(re.fullmatch(r"<\S+@\S+>", e) for e in emails)
    assert any(e != e.lower() and "@" in e for e in emails)
    assert {"test@test.ru", "noemail@mail.ru", "1@1.ru"} & set(emails)
    assert "нет" in emails or any(e.endswith("@") for e in emails)
    domains = Counter(e.strip().lower().rsplit("@", 1)[-1] for e in emails if "@" in e)
    assert {"mail.ru", "yandex.ru", "gmail.com", "bk.ru", "inbox.ru"} <= set(domains)

    flags = Counter(u["ACTIVE"] for u in users) + Counter(
        c["OPENED"] for c in tables["b_crm_contact"]
    )
    flags += Counter(b["CAN_BUY"] for b in tables["b_sale_basket"])
    assert flags["y"] + flags["n"] > 0 and flags[""] > 0
    sources = {r["UF_UTM_SOURCE"] for r in tables["b_uts_user"]}
    assert {"yandex", "google", "vk", "email", ""} <= sources
    assert {"Yandex ", "VK"} & sources
    assert any(r["SOURCE_ID"] != r["SOURCE_ID"].strip() for r in tables["b_crm_lead"])
    assert any(u["LAST_NAME"] == " " for u in users) or any(v["VALUE"] == " " for v in pv)

    # A household: two different persons behind one phone number.
    persons_by_phone: dict[str, set[str]] = defaultdict(set)
    for v in pv:
        if props[v["ORDER_PROPS_ID"]]["IS_PHONE"] == "Y":
            persons_by_phone[norm_phone(v["VALUE"])].add(truth[("b_sale_order", v["ORDER_ID"])])
    shared = {k for k, v in persons_by_phone.items() if len(v) == 2 and re.fullmatch(r"79\d{9}", k)}
    assert shared, "no household sharing a phone"


# ------------------------------------------------------------------------------ invariants


@settings(max_examples=12, deadline=None)
@given(
    customers=st.integers(min_value=0, max_value=40),
    seed=st.integers(min_value=0, max_value=2**31),
    days=st.integers(min_value=7, max_value=90),
)
def test_invariants_hold_for_any_small_world(customers: int, seed: int, days: int) -> None:
    start = dt.date(2023, 3, 1)
    end = (start + dt.timedelta(days=days)).isoformat() + " 00:00:00"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        counts = generate(out, customers, seed=seed, start=start, days=days)
        tables = {t: read_csv(out / f"{t}.csv")[1] for t in TABLE_COLUMNS}
        _, truth = read_csv(out / TRUTH_FILE)
    assert {t: len(rows) for t, rows in tables.items()} == {t: counts[t] for t in TABLE_COLUMNS}
    recorded = {(t, r["ID"]) for t in RECORD_TABLES for r in tables[t]}
    assert sorted(recorded) == sorted((r["source_table"], r["source_id"]) for r in truth)
    fusers = {r["ID"] for r in tables["b_sale_fuser"]}
    assert all(r["FUSER_ID"] in fusers for r in tables["b_sale_basket"])
    for table, rows in tables.items():
        for row in rows:
            for value in row.values():
                if DATETIME.match(value) and value != ZERO_DATETIME:
                    assert f"{start} 00:00:00" <= value < end, (table, value)


# ------------------------------------------------------------------------------ CLI


def test_cli_generate_writes_the_same_files_as_the_library(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["generate", "--out", str(tmp_path / "cli"), "--customers", "40", "--seed", "1"]
    argv += ["--start", "2024-02-01", "--days", "30", "--omit-table", "b_crm_utm", "b_crm_act"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "rows/s" in printed and "b_crm_utm" not in printed
    generate(
        tmp_path / "lib",
        40,
        seed=1,
        start="2024-02-01",
        days=30,
        omit_tables=["b_crm_utm", "b_crm_act"],
    )
    cli_files = sorted(p.name for p in (tmp_path / "cli").iterdir())
    assert cli_files == sorted(p.name for p in (tmp_path / "lib").iterdir())
    assert "b_crm_utm.csv" not in cli_files
    for name in cli_files:
        assert (tmp_path / "cli" / name).read_bytes() == (tmp_path / "lib" / name).read_bytes()


def test_cli_rejects_bad_arguments(tmp_path: Path) -> None:
    assert main([]) == 2
    with pytest.raises(SystemExit) as bad_table:
        main(["generate", "--out", str(tmp_path), "--customers", "1", "--omit-table", "b_nope"])
    assert bad_table.value.code == 2
    with pytest.raises(SystemExit) as bad_days:
        main(["generate", "--out", str(tmp_path), "--customers", "1", "--days", "3"])
    assert bad_days.value.code == 2
    with pytest.raises(SystemExit) as bad_count:
        main(["generate", "--out", str(tmp_path), "--customers", "-5"])
    assert bad_count.value.code == 2
