"""The base of the coaching admin's lists: a ModelAdmin that asks the permission matrix.

It lives apart from ``modeladmins`` so that the admins of other areas (group sessions, 1:1
sessions) can build on it while ``modeladmins`` lists them in the Coaching menu.
"""

from django.db.models import Count, IntegerField, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import Http404
from django.urls import re_path
from wagtail_modeladmin.options import ModelAdmin
from wagtail_modeladmin.views import InspectView

from ..permissions import visible
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


class MatrixModelAdmin(ModelAdmin):
    """A ModelAdmin whose lists are ``visible()`` and whose objects exist only there.

    Only the views in ``admin_views`` get URLs: nothing is deleted here, and modeladmin's
    history view (which checks no permission of its own) is left out.
    """

    admin_views = ("index", "create", "edit", "inspect")
    history_view_enabled = False

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
        if not str(instance_pk).isdigit():
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


class ContextInspectView(InspectView):
    """modeladmin's inspect view, with ``extra_context(request, instance)`` from the
    ModelAdmin for what its fields list cannot show."""

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(self.model_admin.extra_context(self.request, self.instance))
        return context
