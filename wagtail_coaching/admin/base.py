"""The base of the coaching admin's lists: a ModelAdmin that asks the permission matrix, and
whose lists read only the parameters they declare.

It lives apart from ``modeladmins`` so that the admins of other areas (group sessions, 1:1
sessions) can build on it while ``modeladmins`` lists them in the Coaching menu.

wagtail-modeladmin turns every query parameter its list filters do not claim into a queryset
filter, across relations (``?client__password__startswith=...`` would read a password hash
back one character at a time). ``DeclaredFiltersIndexView`` closes that for every list here:
a list honours its declared filters (``list_filter``), search (``q``), ordering (``o``),
paging (``p``) and export; anything else is ignored and never reaches the ORM; a declared
filter given a value it cannot use is answered 400.
"""

from django.contrib.admin.filters import FieldListFilter
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import get_fields_from_path, lookup_spawns_duplicates
from django.db import models
from django.db.models import Count, IntegerField, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import Http404, HttpResponseBadRequest
from django.urls import re_path
from django.utils.translation import gettext as _
from wagtail_modeladmin.helpers import AdminURLHelper, ButtonHelper
from wagtail_modeladmin.options import ModelAdmin, ModelAdminGroup
from wagtail_modeladmin.views import IndexView, InspectView

from ..permissions import visible
from ..utils.exports import SafeSpreadsheetExportMixin
from ..utils.input import guard_urlpatterns
from .permission import may_use_admin, refusing


def _count(queryset, field):
    """A correlated count, immune to the joins of the outer query."""
    return Coalesce(
        Subquery(
            queryset.order_by().values(field).annotate(n=Count("pk")).values("n")[:1],
            output_field=IntegerField(),
        ),
        Value(0),
    )


class DeclaredFiltersIndexView(SafeSpreadsheetExportMixin, IndexView):
    """modeladmin's list, honouring only the parameters it declares (see the module); its
    CSV/XLSX export cells are written by ``utils.exports`` (never a formula)."""

    def declared_parameters(self):
        """The parameters this list reads: its filters' own, search, ordering, paging and
        export. Known once ``get_filters`` has built the filters."""
        claimed = set().union(*(spec.expected_parameters() for spec in self.all_filter_specs))
        return claimed | {
            self.ORDER_VAR, self.ORDER_TYPE_VAR, self.SEARCH_VAR, self.PAGE_VAR, self.EXPORT_VAR
        }

    def _filter_spec(self, list_filter, request, lookup_params):
        if callable(list_filter):
            return list_filter(request, lookup_params, self.model, self.model_admin), False
        if isinstance(list_filter, tuple | list):
            field, spec_class = list_filter
        else:
            field, spec_class = list_filter, FieldListFilter.create
        field_path = None
        if not isinstance(field, models.Field):
            field_path = field
            field = get_fields_from_path(self.model, field_path)[-1]
        spec = spec_class(
            field, request, lookup_params, self.model, self.model_admin, field_path=field_path
        )
        return spec, lookup_spawns_duplicates(self.opts, field_path)

    def get_filters(self, request):
        # Each filter takes its own parameters out of ``lookup_params``; what is left was
        # not declared by any filter and is dropped here (modeladmin would filter by it).
        lookup_params = self.get_filters_params()
        self.all_filter_specs, filter_specs, use_distinct = [], [], False
        for list_filter in self.list_filter or ():
            spec, distinct = self._filter_spec(list_filter, request, lookup_params)
            use_distinct = use_distinct or distinct
            self.all_filter_specs.append(spec)
            if spec and spec.has_output():
                filter_specs.append(spec)
        # Links the list builds (filters, ordering, pages) carry no undeclared parameter.
        declared = self.declared_parameters()
        for key in [key for key in self.params if key not in declared]:
            del self.params[key]
        return filter_specs, bool(filter_specs), {}, use_distinct

    def dispatch(self, request, *args, **kwargs):
        try:
            return super().dispatch(request, *args, **kwargs)
        except IncorrectLookupParameters:
            return HttpResponseBadRequest(
                _("This list cannot be filtered that way."),
                content_type="text/plain; charset=utf-8",
            )


class MatrixModelAdmin(ModelAdmin):
    """A ModelAdmin whose lists are ``visible()`` and whose objects exist only there.

    Only the views in ``admin_views`` get URLs: nothing is deleted here, and modeladmin's
    history view (which checks no permission of its own) is left out.
    """

    admin_views = ("index", "create", "edit", "inspect")
    history_view_enabled = False
    index_view_class = DeclaredFiltersIndexView

    @property
    def view_action(self):
        return self.permission_helper.view_action

    def get_queryset(self, request):
        if not may_use_admin(request.user):
            return self.model.objects.none()
        queryset = visible(request.user, self.view_action)
        ordering = self.get_ordering(request)
        return queryset.order_by(*ordering) if ordering else queryset

    def get_visible_object(self, request, instance_pk):
        """The object, if the viewer may see it; otherwise it does not exist."""
        if not str(instance_pk).isdecimal():
            raise Http404
        obj = self.get_queryset(request).filter(pk=instance_pk).first()
        if obj is None:
            raise Http404
        return obj

    def get_admin_urls_for_registration(self):
        return tuple(
            re_path(
                self.url_helper.get_action_url_pattern(action),
                getattr(self, f"{action}_view"),
                name=self.url_helper.get_action_url_name(action),
            )
            for action in self.admin_views
        )

    def register_indexing(self):
        # Wagtail's reference index would add work to every save the journey services
        # make; nothing in the coaching admin needs usage counts.
        pass

    def index_view(self, request):
        return refusing(super().index_view, request)

    def create_view(self, request):
        return refusing(super().create_view, request)

    def edit_view(self, request, instance_pk):
        self.get_visible_object(request, instance_pk)
        return refusing(super().edit_view, request, instance_pk)

    def inspect_view(self, request, instance_pk):
        self.get_visible_object(request, instance_pk)
        return refusing(super().inspect_view, request, instance_pk)

    def delete_view(self, request, instance_pk):
        raise Http404

    def history_view(self, request, instance_pk):
        raise Http404


class InspectFirstButtonHelper(ButtonHelper):
    """A row's title opens the object's page (where everything about it is), for those who
    may see it."""

    def get_primary_button(self, obj):
        if self.permission_helper.user_can_inspect_obj(self.request.user, obj):
            return self.inspect_button(obj.pk)
        return None


class GuardedModelAdminGroup(ModelAdminGroup):
    """A menu of lists whose every URL (the lists' own and any view an admin adds) refuses
    NUL bytes and over-long parameters before the view runs (``utils.input``)."""

    def get_admin_urls_for_registration(self):
        return tuple(guard_urlpatterns(list(super().get_admin_urls_for_registration())))


class PlainNameURLHelper(AdminURLHelper):
    """URL names without the dashes of the path: ``coaching/one-to-one`` is named
    ``coaching_one_to_one_modeladmin_<view>``."""

    def get_action_url_name(self, action):
        return super().get_action_url_name(action).replace("-", "_")


class ContextInspectView(InspectView):
    """modeladmin's inspect view, with ``extra_context(request, instance)`` from the
    ModelAdmin for what its fields list cannot show."""

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(self.model_admin.extra_context(self.request, self.instance))
        return context
