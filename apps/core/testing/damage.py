"""A hypothesis strategy for property tests of parsers: a recorded output with one to three kinds of damage
(truncated, a line cut, dropped, inserted or replaced, random bytes, a huge or negative number). Only the
parser's typed error may come out of parsing it. Needs hypothesis (a test requirement)."""

from __future__ import annotations

import re

from hypothesis import strategies as st

__all__ = ["damaged"]

RANDOM = st.binary(max_size=40).map(lambda raw: raw.decode("latin-1"))
NUMBERS = ("9" * 300, "4" * 20, "-1")


@st.composite
def damaged(draw, text: str, junk: str = "aZ09 \t:-/@.,()[]=#x\u00e9\x00\x7f") -> str:
    """``text`` with one to three kinds of damage; ``junk``: the characters inserted lines are made of."""
    lines = st.text(st.sampled_from(junk), max_size=24)
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(("truncate", "cut", "drop", "insert", "replace", "bytes", "huge")))
        rows = text.splitlines(keepends=True) or [""]
        i = draw(st.integers(0, len(rows) - 1))
        if kind == "truncate":
            text = text[: draw(st.integers(0, len(text)))]
        elif kind == "cut":
            rows[i] = rows[i][: draw(st.integers(0, len(rows[i])))]
            text = "".join(rows)
        elif kind == "drop":
            text = "".join(rows[:i] + rows[i + 1 :])
        elif kind in ("insert", "replace"):
            line = draw(st.one_of(lines, st.sampled_from(rows)))
            text = "".join([*rows[:i], line + "\n", *rows[i + (kind == "replace") :]])
        elif kind == "bytes":
            start = draw(st.integers(0, len(text)))
            text = text[:start] + draw(RANDOM) + text[start + draw(st.integers(0, 8)) :]
        else:
            numbers = list(re.finditer(r"\d+", text))
            if numbers:
                m = draw(st.sampled_from(numbers))
                text = text[: m.start()] + draw(st.sampled_from(NUMBERS)) + text[m.end() :]
    return text
