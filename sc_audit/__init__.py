"""sc-audit: a static pre-deploy audit of Gunicorn, PM2/systemd, Nginx and deploy scripts.

    >>> from sc_audit import audit
    >>> report = audit("path/to/repo")
    >>> [f.rule for f in report.findings]

Nothing heavy is imported here: the CLI's `--version` must start fast.
"""

__version__ = "0.1.0"
__all__ = ["audit", "Config", "Report", "__version__"]


def __getattr__(name: str):
    if name == "audit":
        from .api import audit

        return audit
    if name == "Report":
        from .api import Report

        return Report
    if name == "Config":
        from .config import Config

        return Config
    raise AttributeError(name)
