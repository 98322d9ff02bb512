"""The second step before anything that cannot be undone (revoking a permit, removing a resident,
switching a district, deactivating an officer): a page that says what will happen, and a form
that does it. The action itself refuses a request that did not come through that form, so a
stray click, a replayed request or a browser without JavaScript all meet the question first."""

from __future__ import annotations

from dataclasses import dataclass

from flask import render_template, request

FIELD = "confirmed"
YES = "yes"


@dataclass(frozen=True)
class Question:
    title: str
    question: str
    facts: tuple[tuple[str, str], ...]
    action: str  # where the confirming form posts
    button: str
    back: str  # where "cancel" goes
    fields: tuple[tuple[str, str], ...] = ()  # hidden fields the action needs
    danger: bool = True


def needed() -> bool:
    """Whether to ask: a GET asks, and so does a POST that did not come from the question."""
    return request.method != "POST" or request.form.get(FIELD) != YES


def ask(question: Question) -> str:
    return render_template("confirm.html", q=question, field=FIELD, yes=YES)
