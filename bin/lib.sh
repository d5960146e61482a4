# Shared shell helpers for bin/run and bin/test: set up the host, the virtualenv and services.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"

say() { printf '\033[1m[calypso]\033[0m %s\n' "$*" >&2; }

is_root() { [ "$(id -u)" = 0 ]; }
have_apt() { command -v apt-get >/dev/null 2>&1; }

# apt_ensure CMD PACKAGE [CMD PACKAGE ...]: install each package whose command is missing.
apt_ensure() {
  local missing=()
  while [ $# -ge 2 ]; do
    command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ] || missing+=("$2")
    shift 2
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if ! is_root || ! have_apt; then
    say "missing packages: ${missing[*]} (install them, or run as root on Debian)"
    return 1
  fi
  say "installing: ${missing[*]}"
  if [ -z "${CALYPSO_APT_UPDATED:-}" ]; then
    apt-get update -qq >/dev/null
    export CALYPSO_APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

ensure_python() {
  apt_ensure python3 python3
  if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    if is_root && have_apt; then
      local ver; ver=$(python3 -c 'import sys; print(f"{sys.version_info.major}.{sys.version_info.minor}")')
      CALYPSO_APT_UPDATED=${CALYPSO_APT_UPDATED:-} apt_force "python3-venv" "python${ver}-venv"
    fi
  fi
}

# apt_force PACKAGE...: install packages that provide no command of their own.
apt_force() {
  is_root && have_apt || return 1
  if [ -z "${CALYPSO_APT_UPDATED:-}" ]; then apt-get update -qq >/dev/null; export CALYPSO_APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# ensure_venv REQUIREMENTS_FILE: create .venv and install requirements when they changed.
ensure_venv() {
  local req="$1"
  local stamp; stamp="$VENV/.calypso-$(basename "$req" .txt).sha"
  ensure_python
  [ -x "$PY" ] || { say "creating virtualenv"; python3 -m venv "$VENV"; }
  local sum; sum=$(cat requirements/*.txt | sha256sum | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$sum" ]; then
    say "installing Python packages from $req"
    "$PY" -m pip install -q --disable-pip-version-check -r "$req"
    echo "$sum" > "$stamp"
  fi
  ensure_cli
}

# ensure_cli: the `calypso` command in .venv/bin (pyproject.toml [project.scripts]): an editable install of
# this checkout without dependencies (requirements/ has them). Offline when the venv can build it itself.
ensure_cli() {
  [ -x "$VENV/bin/calypso" ] && return 0
  say "installing the calypso command"
  local isolation=()
  if "$PY" -c 'import setuptools, wheel, sys; sys.exit(int(setuptools.__version__.split(".")[0]) < 64)' 2>/dev/null
  then isolation=(--no-build-isolation); fi
  "$PY" -m pip install -q --disable-pip-version-check --no-deps "${isolation[@]}" -e "$ROOT"
}

# port_open HOST PORT: true when something listens there.
port_open() { "$PY" - "$1" "$2" <<'PYEOF'
import socket, sys
s = socket.socket(); s.settimeout(1)
sys.exit(0 if s.connect_ex((sys.argv[1], int(sys.argv[2]))) == 0 else 1)
PYEOF
}

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# url_host_port URL DEFAULT_PORT -> "host port"
url_host_port() { "$PY" -c 'import sys,urllib.parse as u; p=u.urlsplit(sys.argv[1]); print(p.hostname or "127.0.0.1", p.port or int(sys.argv[2]))' "$1" "$2"; }

# ensure_pg_database URL: create the PostgreSQL database named in URL when it does not exist.
ensure_pg_database() { "$PY" - "$1" <<'PYEOF'
import sys, urllib.parse as u
import psycopg
from psycopg import sql
p = u.urlsplit(sys.argv[1])
name = p.path.lstrip("/")
admin = p._replace(path="/postgres").geturl()
with psycopg.connect(admin, autocommit=True) as conn:
    if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        print(f"created database {name}", file=sys.stderr)
PYEOF
}
