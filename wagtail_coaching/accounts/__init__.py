"""Optional client accounts: sign in and out, sign up, password reset and change, and a
profile page (name, time zone, which messages one receives).

A host includes ``path("accounts/", include("wagtail_coaching.accounts.urls"))``; a host with
accounts of its own (django-allauth, single sign-on) leaves it out and nothing else changes.
The URL names are Django's own (``login``, ``logout``, ``password_reset``...) plus ``signup``
and ``account_profile``, so Django's defaults (``LOGIN_URL`` ``/accounts/login/``,
``LOGIN_REDIRECT_URL`` ``/accounts/profile/``) work as they are.
"""
