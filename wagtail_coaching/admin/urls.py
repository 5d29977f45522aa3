"""Admin URLs of the coaching admin (namespace ``wagtail_coaching_admin``, under
``/admin/coaching/``). The lists (clients, teams, coaches, companies, cohorts) are
modeladmin's, named ``coaching_<list>_modeladmin_<view>``."""

from django.urls import path

from ..reports import urlpatterns as reports_urlpatterns
from ..utils.input import guard_urlpatterns
from . import card, enrolling, group_sessions, messages, one_to_one, reassign, rules

app_name = "wagtail_coaching_admin"

urlpatterns = guard_urlpatterns([
    path("client/<uuid:public_id>/", card.ClientCardView.as_view(), name="client_card"),
    path(
        "client/<uuid:public_id>/extra-activity/", card.AddExtraActivityView.as_view(),
        name="add_extra_activity",
    ),
    path(
        "client/<uuid:public_id>/unlock/", card.UnlockActivityView.as_view(),
        name="unlock_activity",
    ),
    path("client/<uuid:public_id>/skip/", card.SkipActivityView.as_view(), name="skip_activity"),
    path(
        "client/<uuid:public_id>/reassign/", reassign.ReassignCoachView.as_view(),
        name="reassign_coach",
    ),
    path(
        "client/<uuid:public_id>/co-coach/add/", card.AddCoCoachView.as_view(),
        name="add_co_coach",
    ),
    path(
        "client/<uuid:public_id>/co-coach/remove/", card.RemoveCoCoachView.as_view(),
        name="remove_co_coach",
    ),
    path(
        "client/<uuid:public_id>/reassign/review/", reassign.ReassignReviewView.as_view(),
        name="reassign_coach_review",
    ),
    path("client/<uuid:public_id>/pause/", card.PauseView.as_view(), name="pause"),
    path("client/<uuid:public_id>/resume/", card.ResumeView.as_view(), name="resume"),
    path("client/<uuid:public_id>/note/", card.AddNoteView.as_view(), name="add_note"),
    path(
        "client/<uuid:public_id>/data/", card.ExportClientDataView.as_view(),
        name="client_data_export",
    ),
    path("client/<uuid:public_id>/erase/", card.EraseClientView.as_view(), name="erase_client"),
    path("cohort/<int:pk>/enroll/", enrolling.EnrollCohortView.as_view(), name="enroll_cohort"),
    *messages.urlpatterns,
    *group_sessions.urlpatterns,
    *one_to_one.urlpatterns,
    *rules.urlpatterns,
    *reports_urlpatterns,
])
