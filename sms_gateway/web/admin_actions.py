"""Console actions only an administrator may take.

The console's roles (viewer, admin) are issue 14's; until they exist every operator may act.
Each action that changes the regime or the registry is marked here with `admin_action`, so the
role check has one thing to look at (`getattr(view, "admin_only", False)`, as `auth.public`
marks the views that need no login) and `admin_endpoints` lists them for a test or a page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import Flask

View = TypeVar("View", bound=Callable)


def admin_action(view: View) -> View:
    """Mark a view as an administrator's action."""
    view.admin_only = True  # type: ignore[attr-defined]
    return view


def admin_endpoints(app: Flask) -> list[str]:
    """The endpoints marked as administrators' actions."""
    return sorted(name for name, view in app.view_functions.items()
                  if getattr(view, "admin_only", False))
