"""A site's own page classes built on the package's pages, as docs/extending.md shows them.

Installed by the test settings only (the sandbox does not use it).
"""
