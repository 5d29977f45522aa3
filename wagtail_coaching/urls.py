from django.urls import include, path

from .utils.input import guard_urlpatterns
from .views import booking, client, conversations, notifications, portability, sessions, team

app_name = "wagtail_coaching"

# Every view refuses NUL bytes and over-long parameters (utils.input) before it runs.
urlpatterns = guard_urlpatterns([
    path("", client.DashboardView.as_view(), name="dashboard"),
    path("activity/<uuid:public_id>/", client.ActivityView.as_view(), name="activity"),
    path(
        "enrollment/<uuid:public_id>/coach/", team.ChooseCoachView.as_view(),
        name="choose_coach",
    ),
    path("privacy/", team.PrivacyView.as_view(), name="privacy"),
    # The conversation of one enrollment with its coaches, and the files shared in it.
    path(
        "messages/<uuid:public_id>/", conversations.ConversationView.as_view(),
        name="conversation",
    ),
    path(
        "messages/files/<uuid:public_id>/", conversations.AttachmentView.as_view(),
        name="message_attachment",
    ),
    # Data portability: the client's own data.
    path("my-data/", portability.MyDataView.as_view(), name="my_data"),
    path(
        "my-data/download/", portability.MyDataDownloadView.as_view(), name="my_data_download"
    ),
    # Group sessions.
    path("sessions/", sessions.SessionsView.as_view(), name="sessions"),
    path("sessions/<uuid:public_id>/", sessions.GroupSessionView.as_view(), name="group_session"),
    path(
        "sessions/<uuid:public_id>/register/", sessions.RegisterView.as_view(), name="register"
    ),
    path("sessions/<uuid:public_id>/leave/", sessions.LeaveView.as_view(), name="leave"),
    path("sessions/join/<str:token>/", sessions.JoinView.as_view(), name="join"),
    path("sessions/reply/<str:token>/", sessions.RsvpView.as_view(), name="rsvp"),
    # 1:1 sessions.
    path("book/<uuid:public_id>/", booking.BookView.as_view(), name="book"),
    path("book/<uuid:public_id>/ask/", booking.AskForTimeView.as_view(), name="ask_for_time"),
    path(
        "one-to-one/<uuid:public_id>/calendar.ics", booking.SessionCalendarView.as_view(),
        name="session_calendar",
    ),
    path(
        "one-to-one/<uuid:public_id>/reschedule/", booking.RescheduleView.as_view(),
        name="reschedule",
    ),
    path(
        "one-to-one/<uuid:public_id>/cancel/", booking.CancelBookingView.as_view(),
        name="cancel_booking",
    ),
    # Personal calendar feeds.
    path("calendar/<str:token>.ics", sessions.CalendarFeedView.as_view(), name="calendar_feed"),
    path("calendar/reset/", sessions.ResetCalendarView.as_view(), name="calendar_reset"),
    path("", include("wagtail_coaching.urls_payments")),
    # In-app notifications and which kinds of message one receives.
    path("notifications/", notifications.NotificationsView.as_view(), name="notifications"),
    path(
        "notifications/<int:pk>/", notifications.OpenNotificationView.as_view(),
        name="notification_open",
    ),
    path(
        "notifications/settings/", notifications.NotificationSettingsView.as_view(),
        name="notification_settings",
    ),
])
