"""Pure parsers of the NFS servers' formats: ``exportfs -v`` (nfs-utils), an exports(5) file, and the EXPORT
blocks of an NFS-Ganesha configuration."""

from __future__ import annotations

import re

from apps.core.errors import lines, parser

from .base import ExportedClient

__all__ = ["EXPORT_OPTIONS", "parse_exportfs_v", "parse_exports", "parse_ganesha_config", "parse_ganesha_exports"]

# Options Calypso writes in an exports line; ``exportfs -v`` adds the defaults it applied (wdelay, hide...).
EXPORT_OPTIONS = {"rw", "ro", "sync", "async", "root_squash", "no_root_squash", "all_squash", "no_subtree_check"}
_VALUED_OPTIONS = {"anonuid", "anongid", "sec"}
_SEC = {"sys", "krb5", "krb5i", "krb5p", "none"}


def _client(path: str, spec: str) -> ExportedClient:
    """``host(opt,opt,...)`` of ``path``."""
    host, paren, rest = spec.partition("(")
    if not paren or not rest.endswith(")") or not host:
        raise ValueError(f"expected host(options), got {spec!r}")
    options = tuple(o for o in rest[:-1].split(",") if o)
    values = dict(o.split("=", 1) for o in options if "=" in o)
    flags = {o for o in options if "=" not in o}
    if "all_squash" in flags:
        squash = "all_squash"
    elif "no_root_squash" in flags:
        squash = "no_root_squash"
    else:
        squash = "root_squash"
    sec = tuple(values["sec"].split(":")) if "sec" in values else ("sys",)
    if any(s not in _SEC for s in sec):
        raise ValueError(f"unknown security flavour in {values['sec']!r}")
    return ExportedClient(
        path=path, host="*" if host == "<world>" else host, access="rw" if "rw" in flags else "ro",
        sync="async" not in flags, squash=squash,
        anonuid=int(values["anonuid"]) if "anonuid" in values else None,
        anongid=int(values["anongid"]) if "anongid" in values else None,
        sec=sec, options=options)


@parser("exportfs -v")
def parse_exportfs_v(text: str) -> tuple[ExportedClient, ...]:
    """What the kernel server exports now. nfs-utils prints ``%-14s\\t%s(%s)`` (path padded to 14 columns, a
    tab, the client and its options) and, for a path longer than 14 characters, the path alone then
    ``\\t\\t%s(%s)`` on the next line; a path is printed as it is (spaces unescaped)."""
    out: list[ExportedClient] = []
    pending: str | None = None
    for line in lines(text):
        if not line.strip():
            continue
        if line.startswith("\t"):
            if pending is None:
                raise ValueError("a client line before any path")
            out.append(_client(pending, line.strip()))
            pending = None
        elif "\t" in line:
            path, _tab, spec = line.rpartition("\t")
            out.append(_client(path.rstrip(" "), spec.strip()))
            pending = None
        else:
            if pending is not None:
                raise ValueError(f"no client for {pending!r}")
            pending = line.rstrip(" ")
    if pending is not None:
        raise ValueError(f"no client for {pending!r}")
    return tuple(out)


_OCTAL = re.compile(r"\\([0-7]{3})")


def _export_path(token: str) -> str:
    if token.startswith('"'):
        if len(token) < 2 or not token.endswith('"'):
            raise ValueError(f"unterminated quoted path {token!r}")
        token = token[1:-1]
    return _OCTAL.sub(lambda m: chr(int(m.group(1), 8)), token)


_EXPORTS_TOKEN = re.compile(r'"[^"]*"|[^\s"]+')


@parser("exports file")
def parse_exports(text: str, *, strict: bool = True) -> tuple[ExportedClient, ...]:
    """An exports(5) file as Calypso writes it: ``path client(options) ...`` per line, the path in double
    quotes when it holds a space. ``strict``: only the options Calypso writes, each client with options."""
    out: list[ExportedClient] = []
    for line in lines(text):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            raise ValueError("continued lines are not written by Calypso")
        tokens = _EXPORTS_TOKEN.findall(stripped)
        if _EXPORTS_TOKEN.sub("", stripped).strip():
            raise ValueError("a stray double quote")
        path, clients = _export_path(tokens[0]), tokens[1:]
        if not path.startswith("/") or not clients:
            raise ValueError("expected an absolute path and at least one client")
        for spec in clients:
            client = _client(path, spec)
            if strict:
                for option in client.options:
                    name = option.split("=", 1)[0]
                    if option not in EXPORT_OPTIONS and name not in _VALUED_OPTIONS:
                        raise ValueError(f"unknown option {option!r}")
                    if name in ("anonuid", "anongid") and not option.split("=", 1)[1].isdigit():
                        raise ValueError(f"{option!r} is not a number")
                if ("rw" in client.options) == ("ro" in client.options):
                    raise ValueError(f"{spec!r}: give exactly one of rw and ro")
            out.append(client)
    return tuple(out)


# ---------------------------------------------------------------------------------------------- NFS-Ganesha
_GANESHA_TOKEN = re.compile(r'\s+|#[^\n]*|"(?:[^"\\]|\\.)*"|[{};=,]|[^\s{};=,"#]+')
_GANESHA_WORD = re.compile(r'\s+|#[^\n]*|("(?:[^"\\]|\\.)*"|[{};=,]|[^\s{};=,"#]+)')


def _tokens(text: str) -> list[str]:
    """The words, strings and punctuation of a Ganesha configuration (whitespace and comments dropped)."""
    leftover = _GANESHA_TOKEN.sub("", text)  # only an unterminated string is left over
    if leftover:
        at = text.find(leftover[:1])
        raise ValueError(f"unreadable text at {text[at:at + 40]!r}")
    return [token for token in _GANESHA_WORD.findall(text) if token]


def _value(token: str) -> str:
    return token[1:-1].replace('\\"', '"').replace("\\\\", "\\") if token.startswith('"') else token


def _block(tokens: list[str], pos: int, top: bool) -> tuple[dict, int]:
    """``name = value[, value...];`` and ``NAME { ... }`` up to the closing brace (or the end, at the top).
    Parameters become strings (or lists, when comma-separated); sub-blocks lists of dicts under their name."""
    out: dict = {}
    while pos < len(tokens):
        name = tokens[pos]
        if name == "}":
            if top:
                raise ValueError("a } without its {")
            return out, pos + 1
        if name.startswith("%"):  # %include "file", %url: not followed here
            pos += 2
            continue
        if pos + 1 >= len(tokens):
            raise ValueError(f"{name!r} ends the file")
        if tokens[pos + 1] == "{":
            inner, pos = _block(tokens, pos + 2, top=False)
            out.setdefault(name, []).append(inner)
            continue
        if tokens[pos + 1] != "=":
            raise ValueError(f"expected = or {{ after {name!r}, got {tokens[pos + 1]!r}")
        values, pos = [], pos + 2
        while True:
            if pos >= len(tokens) or tokens[pos] in "{};=,":
                raise ValueError(f"no value for {name!r}")
            values.append(_value(tokens[pos]))
            pos += 1
            if pos < len(tokens) and tokens[pos] == ",":
                pos += 1
                continue
            if pos >= len(tokens) or tokens[pos] != ";":
                raise ValueError(f"expected ; after the value of {name!r}")
            pos += 1
            break
        if name in out:
            raise ValueError(f"{name} is given twice")
        out[name] = values[0] if len(values) == 1 else values
    if not top:
        raise ValueError("a { without its }")
    return out, pos


@parser("ganesha.conf")
def parse_ganesha_config(text: str) -> dict:
    """The blocks and parameters of an NFS-Ganesha configuration (names as written; ``%include`` lines are
    not followed)."""
    return _block(_tokens(text), 0, top=True)[0]


@parser("ganesha.conf")
def parse_ganesha_exports(text: str) -> tuple[ExportedClient, ...]:
    """The clients of every EXPORT block, one ``ExportedClient`` per client host."""
    out: list[ExportedClient] = []
    for export in parse_ganesha_config(text).get("EXPORT", []):
        path = export["Path"]
        default_sec = _list(export.get("SecType", "sys"))
        for client in export.get("CLIENT", []):
            for host in _list(client["Clients"]):
                access = client.get("Access_Type", export.get("Access_Type", "None")).upper()
                out.append(ExportedClient(
                    path=path, host=host, access="rw" if access == "RW" else "ro", sync=True,
                    squash=client.get("Squash", export.get("Squash", "root_squash")).lower(),
                    anonuid=int(client["Anonymous_Uid"]) if "Anonymous_Uid" in client else None,
                    anongid=int(client["Anonymous_Gid"]) if "Anonymous_Gid" in client else None,
                    sec=tuple(_list(client.get("SecType", default_sec))),
                    options=tuple(f"{k}={v}" for k, v in client.items() if k != "Clients")))
    return tuple(out)


def _list(value) -> list[str]:
    return list(value) if isinstance(value, list) else [value]
