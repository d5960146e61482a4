"""Where the command line finds the portal and its token: ``CALYPSO_URL`` / ``CALYPSO_TOKEN`` /
``CALYPSO_CA_FILE`` first, then the config file (``$CALYPSO_CONFIG``, else
``$XDG_CONFIG_HOME/calypso/cli.toml``, else ``~/.config/calypso/cli.toml``)::

    url = "https://nas.example.org"
    token = "cal_..."
    ca_file = "/etc/ssl/certs/nas.pem"   # optional: the CA that signed the portal's certificate

The file holds a secret: it must be readable by its owner only (mode 0600), as ``calypso login`` writes it.
"""

from __future__ import annotations

import json
import os
import stat
import tomllib
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DEFAULT_URL", "Config", "ConfigError", "config_path", "load_config", "save_config"]

DEFAULT_URL = "http://127.0.0.1:8000"
KEYS = ("url", "token", "ca_file")


class ConfigError(Exception):
    """The config file cannot be used (unreadable, not TOML, or open to other users)."""


@dataclass
class Config:
    url: str = DEFAULT_URL
    token: str = ""
    ca_file: str = ""
    path: Path | None = None  # the file read, if any

    def __repr__(self) -> str:  # never show the token, even in a traceback
        return f"Config(url={self.url!r}, token={'***' if self.token else ''!r}, ca_file={self.ca_file!r})"


def config_path(environ: dict | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get("CALYPSO_CONFIG"):
        return Path(env["CALYPSO_CONFIG"]).expanduser()
    base = Path(env["XDG_CONFIG_HOME"]) if env.get("XDG_CONFIG_HOME") else Path.home() / ".config"
    return base / "calypso" / "cli.toml"


def read_file(path: Path) -> dict:
    """The file's settings; {} when it does not exist. Refused when group or others may read or write it."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"{path} is open to other users (mode {stat.S_IMODE(mode):04o}); it holds a token: "
                          f"chmod 600 {path}")
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        raise ConfigError(f"{path}: unknown setting {', '.join(unknown)} (known: {', '.join(KEYS)})")
    bad = sorted(key for key, value in data.items() if not isinstance(value, str))
    if bad:
        raise ConfigError(f"{path}: {', '.join(bad)} must be a string")
    return data


def load_config(environ: dict | None = None, url: str | None = None) -> Config:
    """The environment over the file; ``url`` (the --url option) over both."""
    env = os.environ if environ is None else environ
    path = config_path(env)
    data = read_file(path)
    config = Config(path=path if data else None)
    for key in KEYS:
        value = env.get(f"CALYPSO_{key.upper()}") or data.get(key)
        if value:
            setattr(config, key, value)
    if url:
        config.url = url
    config.url = config.url.rstrip("/")
    return config


def _toml_string(value: str) -> str:
    return json.dumps(value)  # a JSON string (ASCII, \uXXXX escapes) is a valid TOML basic string


def save_config(path: Path, **values: str) -> None:
    """Write ``values`` over the file's settings, atomically, mode 0600 (its folder 0700 when created)."""
    data = {**read_file(path), **{k: v for k, v in values.items() if v is not None}}
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    text = "".join(f"{key} = {_toml_string(data[key])}\n" for key in KEYS if data.get(key))
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
