"""The jinja2 templates of the published pages: the package monitor.templates in an install
(pyproject.toml maps this top-level folder into the package)."""
