"""What a CSV or XLSX cell may hold: every spreadsheet the package writes goes through here, so
no export can carry a formula.

A spreadsheet runs a cell as a formula when its text starts with ``=``, ``+``, ``-`` or ``@``
(and some, importing a CSV, after a tab, a carriage return or leading blanks they trim). A name,
an email address or an answer is data, never a formula:

- CSV (``csv_cell``): text that starts with one of ``= + - @ TAB CR``, or whose first
  non-blank character is one of ``= + - @``, gets a leading apostrophe (``'=SUM(1)``), which
  spreadsheets show as text. Numbers stay numbers, and so does text that is just a number
  (``-5``, ``+3.50``): a bare number computes nothing.
- XLSX (``xlsx_cell``): cells are typed. Numbers are numbers, dates and times are dates, and
  text is a text cell, never a formula, so no apostrophe is needed and the text is exactly the
  data (``=HYPERLINK(...)`` shows as that text).

``SafeSpreadsheetExportMixin`` puts a view built on Wagtail's ``SpreadsheetExportMixin`` (the
reports, the orders list) through both; ``portability.as_csv_zip`` calls ``csv_cell``. Column
headings are the package's own labels, not data, and are written as they are.
"""

import datetime
import re
from decimal import Decimal

from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

# Leading characters that make a spreadsheet read a cell as a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# Text that is only a number, sign included: nothing to compute, left as it is.
PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
# Kept as they are: numbers, and booleans (an int to Python, TRUE/FALSE to a spreadsheet).
NUMBERS = (int, float, Decimal)


def looks_like_formula(text):
    """Whether a spreadsheet could read ``text`` as a formula."""
    if PLAIN_NUMBER.fullmatch(text):
        return False
    return text.startswith(FORMULA_PREFIXES) or text.lstrip().startswith(FORMULA_PREFIXES)


def csv_cell(value):
    """``value`` as a CSV cell: "" for None, numbers and booleans as they are, anything else
    as text, with an apostrophe in front when it could be read as a formula."""
    if value is None:
        return ""
    if isinstance(value, NUMBERS):
        return value
    text = str(value)
    return "'" + text if looks_like_formula(text) else text


def xlsx_cell(worksheet, value, datetime_format=None):
    """``value`` as a typed cell of a write-only ``worksheet``: empty for None, a number, a
    boolean, a date or time (an aware datetime in UTC: a cell has no zone, so convert to the
    reader's zone first), or text that is never a formula. ``datetime_format`` is the number
    format of datetimes (Excel's, e.g. ``dd/mm/yyyy hh:mm``)."""
    if isinstance(value, (datetime.datetime, datetime.time)) and value.tzinfo is not None:
        if isinstance(value, datetime.datetime):
            value = value.astimezone(datetime.UTC)
        value = value.replace(tzinfo=None)
    if value is None or isinstance(value, NUMBERS):
        return WriteOnlyCell(worksheet, value)
    if isinstance(value, (datetime.date, datetime.time, datetime.timedelta)):
        cell = WriteOnlyCell(worksheet, value)
        if datetime_format and isinstance(value, datetime.datetime):
            cell.number_format = datetime_format
        return cell
    # Characters a worksheet cannot hold (control characters) are dropped, not fatal.
    cell = WriteOnlyCell(worksheet, ILLEGAL_CHARACTERS_RE.sub("", str(value)))
    cell.data_type = "s"  # openpyxl reads "=..." as a formula and "#N/A" as an error
    return cell


class SafeSpreadsheetExportMixin:
    """For a view built on Wagtail's ``SpreadsheetExportMixin`` (listed before it): each
    cell, once the view's ``preprocess_field_value`` has run, goes through ``csv_cell`` or
    ``xlsx_cell``."""

    def write_csv_row(self, writer, row_dict):
        return writer.writerow({
            field: csv_cell(self.preprocess_field_value(field, value, self.FORMAT_CSV))
            for field, value in row_dict.items()
        })

    def generate_xlsx_row(self, worksheet, row_dict, date_format=None):
        for field, value in row_dict.items():
            yield xlsx_cell(
                worksheet, self.preprocess_field_value(field, value, self.FORMAT_XLSX),
                datetime_format=date_format,
            )
