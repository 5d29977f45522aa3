"""No export carries a formula: the cell policy of ``wagtail_coaching/utils/exports.py``, then
each download through it (a report, the orders list, a client's own data) with people named
like formulas.

CSV cells that a spreadsheet would run get a leading apostrophe; XLSX cells are typed (numbers,
dates, text cells that are never formulas, so no apostrophe).
"""

import csv
import io
import zipfile
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import openpyxl
import pytest
from django.test import Client
from django.urls import reverse
from openpyxl import Workbook

from wagtail_coaching.journeys import complete_activity
from wagtail_coaching.payments.fulfilment import grant_offer
from wagtail_coaching.testing.factories import UserFactory
from wagtail_coaching.utils.exports import csv_cell, looks_like_formula, xlsx_cell

from . import test_orders_admin
from .test_admin_clients import admin_world, as_user
from .test_portability import export_url
from .test_reports import csv_table, download, make_company, report_url, reports_world
from .world import built_quietly

# The worlds those tests build, reused here (the report's built for its one test here).
people = test_orders_admin.people
offer = test_orders_admin.offer

LINK = '=HYPERLINK("http://x")'
SUM = "@SUM(1)"
BLANK_FIRST = " =1+1"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def world(db):
    return built_quietly(reports_world)


# -- The policy -------------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    LINK, "+1+1", "-2+3", SUM, "=1", "\t=1+1", "\rcmd", "\tplain", "  =1+1", "\n@SUM(1)",
    "=cmd|' /C calc'!A0", "-", "+",
])
def test_csv_text_that_could_run_gets_an_apostrophe(text):
    assert looks_like_formula(text)
    assert csv_cell(text) == "'" + text


@pytest.mark.parametrize("text", [
    "Ada Lovelace", "ada@example.com", "a=b", "1+1", "", " ", "'=already text", "(=1)",
    "-5", "+3.50", "-0.25", "12", "2025-03-01", "#N/A",
])
def test_csv_text_that_cannot_run_is_left_alone(text):
    assert not looks_like_formula(text)
    assert csv_cell(text) == text


@pytest.mark.parametrize("value", [0, 42, -5, 2.5, -0.5, Decimal("-1200.50"), True, False])
def test_csv_numbers_stay_numbers(value):
    cell = csv_cell(value)
    assert cell is value


def test_csv_other_values_become_text():
    assert csv_cell(None) == ""
    assert csv_cell(date(2025, 3, 1)) == "2025-03-01"

    class Named:
        def __str__(self):
            return SUM

    assert csv_cell(Named()) == "'" + SUM


def test_a_csv_written_with_the_policy_reads_back_as_text():
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow([csv_cell(v) for v in (LINK, -3, Decimal("9.90"), None, "a,b\n=c")])
    assert list(csv.reader(io.StringIO(text.getvalue()))) == [
        ["'" + LINK, "-3", "9.90", "", "a,b\n=c"]
    ]


def workbook_of(values, datetime_format=None):
    """The bytes of a one-row workbook of ``values`` written through ``xlsx_cell``."""
    book = Workbook(write_only=True, iso_dates=True)
    sheet = book.create_sheet("Sheet1")
    sheet.append([xlsx_cell(sheet, v, datetime_format=datetime_format) for v in values])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def sheet_xml(data):
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return archive.read("xl/worksheets/sheet1.xml").decode()


def test_xlsx_cells_are_typed_and_text_is_never_a_formula():
    values = [
        LINK, SUM, "+1+1", "-2+3", "#N/A", "Ada", 42, Decimal("-1.50"), 2.5, True, None,
        date(2025, 3, 1), datetime(2025, 3, 1, 10, 30),
        datetime(2025, 3, 1, 10, 30, tzinfo=timezone(timedelta(hours=1))),
    ]
    data = workbook_of(values, datetime_format="dd/mm/yyyy hh:mm")
    assert "<f>" not in sheet_xml(data)  # no formula anywhere in the sheet
    cells = list(openpyxl.load_workbook(io.BytesIO(data)).active[1])
    got = [(c.value, c.data_type) for c in cells]
    assert got == [
        (LINK, "s"), (SUM, "s"), ("+1+1", "s"), ("-2+3", "s"), ("#N/A", "s"), ("Ada", "s"),
        (42, "n"), (-1.5, "n"), (2.5, "n"), (True, "b"), (None, "n"),
        (date(2025, 3, 1), "d"), (datetime(2025, 3, 1, 10, 30), "d"),
        # A cell has no zone: an aware time is written in UTC.
        (datetime(2025, 3, 1, 9, 30), "d"),
    ]
    assert [c.number_format for c in cells[-3:]] == [
        "yyyy-mm-dd", "dd/mm/yyyy hh:mm", "dd/mm/yyyy hh:mm"
    ]


def test_xlsx_text_drops_characters_a_worksheet_cannot_hold():
    data = workbook_of(["A\x01da\x1f", "=\x00x"])
    cells = list(openpyxl.load_workbook(io.BytesIO(data)).active[1])
    assert [(c.value, c.data_type) for c in cells] == [("Ada", "s"), ("=x", "s")]


def test_xlsx_other_values_become_text():
    class Named:
        def __str__(self):
            return LINK

    data = workbook_of([Named(), UTC])
    cells = list(openpyxl.load_workbook(io.BytesIO(data)).active[1])
    assert [(c.value, c.data_type) for c in cells] == [(LINK, "s"), ("UTC", "s")]


# -- What each download holds -----------------------------------------------------------------

def assert_csv_runs_nothing(rows):
    """Every cell of a CSV either cannot run or starts with the apostrophe."""
    for row in rows:
        for cell in row:
            assert cell.startswith("'") or not looks_like_formula(cell), (row, cell)


def assert_xlsx_runs_nothing(sheet):
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)


def xlsx_download(response):
    assert response["Content-Type"] == XLSX
    data = download(response)
    assert "<f>" not in sheet_xml(data)
    return openpyxl.load_workbook(io.BytesIO(data)).active


@pytest.mark.django_db
def test_a_report_export_keeps_formula_names_as_text(client, world):
    make_company(world)
    world.coach_a.first_name, world.coach_a.last_name = LINK, ""
    world.coach_a.save()
    world.coach_b.first_name, world.coach_b.last_name = SUM, ""
    world.coach_b.save()
    # No name: shown by username, a formula behind a blank some spreadsheets trim.
    world.coach_a2.first_name, world.coach_a2.last_name = "", ""
    world.coach_a2.username = BLANK_FIRST
    world.coach_a2.save()
    as_user(client, world.admin)

    headings, rows = csv_table(client.get(report_url("coach_load"), {"export": "csv"}))
    assert_csv_runs_nothing(rows)
    coaches = {row[0]: row for row in rows}
    assert {"'" + LINK, "'" + SUM, "'" + BLANK_FIRST} <= set(coaches)
    assert coaches["'" + LINK][headings.index("Active clients")] == "1"

    sheet = xlsx_download(client.get(report_url("coach_load"), {"export": "xlsx"}))
    assert_xlsx_runs_nothing(sheet)
    headings = [c.value for c in next(sheet.iter_rows(max_row=1))]
    coaches = {row[0].value: row for row in sheet.iter_rows(min_row=2)}
    assert {LINK, SUM, BLANK_FIRST} <= set(coaches)  # the name itself, no apostrophe
    assert {coaches[name][0].data_type for name in (LINK, SUM, BLANK_FIRST)} == {"s"}
    clients = coaches[LINK][headings.index("Active clients")]
    assert (clients.value, clients.data_type) == (1, "n")

    # The company report, through the same policy.
    world.client_a1.first_name, world.client_a1.last_name = SUM, ""
    world.client_a1.save()
    as_user(client, world.hr_acme)
    rows = csv_table(client.get(report_url("company"), {"export": "csv"}))[1]
    assert [row[0] for row in rows] == ["'" + SUM]
    sheet = xlsx_download(client.get(report_url("company"), {"export": "xlsx"}))
    assert [(row[0].value, row[0].data_type) for row in sheet.iter_rows(min_row=2)] == [
        (SUM, "s")
    ]


@pytest.fixture
def formula_order(people, offer):
    buyer = UserFactory(username=SUM, email=LINK + "@example.com")
    return grant_offer(buyer, offer, actor=people["admin"], amount=1200, currency="eur",
                       reference="-2+3")


def test_the_orders_export_keeps_formula_buyers_as_text(people, formula_order):
    client = Client()
    client.force_login(people["sales"])
    url = reverse(test_orders_admin.INDEX)

    response = client.get(url, {"export": "csv"})
    assert response["Content-Type"] == "text/csv"
    text = b"".join(response.streaming_content).decode()
    rows = list(csv.reader(io.StringIO(text)))
    assert_csv_runs_nothing(rows[1:])
    [row] = list(csv.DictReader(io.StringIO(text)))
    assert row["Order"] == str(formula_order.public_id)
    assert row["Buyer"] == "'" + SUM
    assert row["Buyer email"] == "'" + LINK + "@example.com"
    assert row["Reference"] == "'-2+3"
    assert row["Amount"] == "1200.00"

    response = client.get(url, {"export": "xlsx"})
    assert 'filename="orders.xlsx"' in response["Content-Disposition"]
    sheet = xlsx_download(response)
    assert_xlsx_runs_nothing(sheet)
    headings, cells = [list(row) for row in sheet.iter_rows()]
    row = {h.value: c for h, c in zip(headings, cells, strict=True)}
    assert (row["Buyer"].value, row["Buyer"].data_type) == (SUM, "s")
    assert (row["Buyer email"].value, row["Buyer email"].data_type) == (
        LINK + "@example.com", "s"
    )
    assert (row["Reference"].value, row["Reference"].data_type) == ("-2+3", "s")
    assert (row["Amount"].value, row["Amount"].data_type) == (1200, "n")
    assert row["Created"].data_type == "d"


def zip_tables(content):
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return {
            name: list(csv.DictReader(io.StringIO(archive.read(name).decode())))
            for name in archive.namelist()
        }


@pytest.mark.django_db
def test_the_client_data_export_keeps_formula_names_as_text(client):
    w = admin_world()
    w.client_a1.first_name, w.client_a1.last_name, w.client_a1.email = LINK, SUM, "+1@x.test"
    w.client_a1.save()
    welcome = w.enrollment_a1.activities.get(title="Welcome")
    complete_activity(welcome, actor=w.client_a1, response="=1+1", score=7)

    as_user(client, w.client_a1)
    own = client.get(reverse("wagtail_coaching:my_data_download"), {"format": "csv"})
    as_user(client, w.admin)
    card = client.get(export_url(w.enrollment_a1, "csv"))
    for response in (own, card):
        assert response.status_code == 200
        assert response["Content-Type"] == "application/zip"
        tables = zip_tables(response.content)
        for rows in tables.values():
            assert_csv_runs_nothing([row.values() for row in rows])
        [profile] = tables["profile.csv"]
        assert (profile["first_name"], profile["last_name"], profile["email"]) == (
            "'" + LINK, "'" + SUM, "'+1@x.test"
        )
        [answered] = [r for r in tables["activities.csv"] if r["title"] == "Welcome"]
        assert (answered["response"], answered["score"]) == ("'=1+1", "7")
