"""wagtail-coaching: the platform a coaching business runs on, as a Wagtail extension."""

__version__ = "0.1.0"
