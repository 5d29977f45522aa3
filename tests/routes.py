"""The row type of the URL × role table (``tests/test_admin_matrix.py``), shared by the
modules that contribute rows for their own area."""

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Route:
    method: str = "get"
    targets: str | None = None  # attribute of Setup listing the objects the URL is about
    lookup: str | None = None  # action that finds the object; without it: 404
    action: str | None = None  # action the URL performs; without it: 403
    creates: type | None = None  # a create view: ``action`` on a new object of this model
    admin: bool = True  # inside the Wagtail admin (needs admin access)
    data: Callable = field(default=lambda setup, obj: {})
    args: Callable = field(default=lambda obj: [] if obj is None else [obj.pk])
    prepare: Callable | None = None


def by_public_id(obj):
    return [obj.public_id]
