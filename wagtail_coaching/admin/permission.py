"""How the coaching admin asks the permission matrix.

Nothing here decides on its own: each answer is ``allowed()`` or ``visible()`` from
``wagtail_coaching.permissions``. Two conventions hold for every admin view:

- an object is looked up inside ``visible(user, <view action>)``, so an object the viewer
  may not see does not exist (404);
- the action is then checked with ``allowed(user, <action>, obj)``; a refusal is a real 403
  page (Wagtail's own habit of redirecting to the dashboard would hide it from tests and
  from the dialog that shows the client card).

Creating is allowed when the change action's scope covers a brand-new object, i.e. when the
user's role changes every object of the kind (scope ``all``): only coaching admins create
teams, coach profiles, companies and cohorts. Nothing is deleted from the coaching admin.
"""

from django.contrib.auth.models import Permission
from django.http import Http404
from wagtail_modeladmin.helpers import PermissionHelper

from ..permissions import admin_allowed as may  # the admin's short name for it
from ..permissions import may_use_admin as may_use_admin
from ..permissions import visible
from ..utils.admin_pages import forbidden as forbidden
from ..utils.admin_pages import refusing as refusing
from ..utils.admin_pages import wants_fragment as wants_fragment


def visible_or_404(user, action, *, related=(), **lookup):
    """The object ``lookup`` names among those ``user`` may see for ``action``; an object
    the viewer may not see does not exist (404)."""
    obj = visible(user, action).select_related(*related).filter(**lookup).first()
    if obj is None:
        raise Http404
    return obj


class MatrixPermissionHelper(PermissionHelper):
    """modeladmin's permission questions, answered from the matrix.

    ``view_action`` lists and inspects; ``change_action`` creates (see the module docstring)
    and edits. Django model permissions play no part, so none are offered on group forms.
    """

    view_action = None
    change_action = None

    def get_all_model_permissions(self):
        return Permission.objects.none()

    def user_can_list(self, user):
        return may(user, self.view_action)

    def user_can_create(self, user):
        return self.change_action is not None and may(user, self.change_action, self.model())

    def user_can_inspect_obj(self, user, obj):
        return self.inspect_view_enabled and may(user, self.view_action, obj)

    def user_can_edit_obj(self, user, obj):
        return self.change_action is not None and may(user, self.change_action, obj)

    def user_can_delete_obj(self, user, obj):
        return False


class EnrollmentPermissionHelper(MatrixPermissionHelper):
    """Clients. There is no generic edit: a journey changes through the client card's
    actions. Enrolling runs the engagement's coach assignment, so it needs the right to
    assign coaches (``reassign_enrollment``, admins in the matrix)."""

    view_action = "view_enrollment"
    change_action = None

    def user_can_create(self, user):
        return may(user, "reassign_enrollment")


class TeamPermissionHelper(MatrixPermissionHelper):
    view_action = "view_team"
    change_action = "change_team"


class CoachProfilePermissionHelper(MatrixPermissionHelper):
    view_action = "view_coachprofile"
    change_action = "change_coachprofile"


class CompanyPermissionHelper(MatrixPermissionHelper):
    view_action = "view_company"
    change_action = "change_company"


class CohortPermissionHelper(MatrixPermissionHelper):
    view_action = "view_cohort"
    change_action = "change_cohort"
