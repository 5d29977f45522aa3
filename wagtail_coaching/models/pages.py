"""What the package's page mixins share."""


class PackageTemplateMixin:
    """Show a page with the package's template when its class has none of its own.

    Wagtail names a default template after each concrete class (``app/model_name.html``), so
    a site's subclass of ``EngagementPage`` or ``OfferPage`` would look for a template the
    site may never write. A subclass that sets ``template`` (or writes the default one) is
    shown with it; otherwise with ``package_template``.
    """

    package_template = None

    def get_template(self, request, *args, **kwargs):
        template = super().get_template(request, *args, **kwargs)
        if template == self.package_template:
            return template
        return [template, self.package_template]
