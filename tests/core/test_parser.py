"""The ``@parser`` decorator: whatever goes wrong in a parser is one ParseError naming the command and the
line being read; nothing else escapes."""

from __future__ import annotations

import pytest

from apps.core.errors import BackendError, ParseError, lines, parser


@parser("tool list")
def parse_tool_list(text: str) -> dict[str, int]:
    return {name: int(size) for name, size in (line.split() for line in lines(text))}


@parser
def parse_tool_show(text: str) -> dict[str, int]:
    return {"total": sum(parse_tool_list(text).values()) // len(text.strip())}


@pytest.mark.parametrize(("text", "line", "cause"), [
    ("a 1\nb two\nc 3\n", "b two", ValueError),
    ("a 1\nb\n", "b", ValueError),
    ("a 1\nb 2 3\n", "b 2 3", ValueError),
])
def test_failure_names_the_command_and_the_line(text, line, cause):
    with pytest.raises(ParseError) as err:
        parse_tool_list(text)
    assert (err.value.command, err.value.line) == ("tool list", line)
    assert "`tool list`" in str(err.value) and repr(line) in str(err.value)
    assert isinstance(err.value, BackendError) and isinstance(err.value.__cause__, cause)
    assert (err.value.code, err.value.status_code) == ("unreadable_output", 502)


def test_a_nested_parser_keeps_its_own_command_and_the_bare_form_names_the_function():
    with pytest.raises(ParseError) as err:
        parse_tool_show("a 1\nb x\n")
    assert err.value.command == "tool list"
    with pytest.raises(ParseError) as err:
        parse_tool_show("")
    assert err.value.command == "tool show" and err.value.line is None  # ZeroDivisionError, no line read
    assert "it begins" in str(err.value)


def test_overflow_and_an_explicit_parse_error_are_typed_too():
    @parser("tool time")
    def parse_time(text: str) -> float:
        for line in lines(text):
            if not line:
                raise ParseError("an empty line")
            return float(int(line))
        return 0.0

    with pytest.raises(ParseError) as err:
        parse_time("9" * 400)
    assert isinstance(err.value.__cause__, OverflowError)
    with pytest.raises(ParseError, match="an empty line") as err:
        parse_time("\n")
    assert (err.value.command, err.value.line) == ("tool time", "")
