"""Samba: renders Calypso's include file of share sections, validates it with ``testparm``, reloads smbd
with ``smbcontrol``, reads ``smbstatus --json``, and keeps SMB accounts with ``smbpasswd``/``pdbedit``.

The main configuration (``/etc/samba/smb.conf``) stays the operator's: Calypso only adds one
``include =`` line for its own file. Passwords go to ``smbpasswd`` on its standard input, never on a
command line and never to a file.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from django.utils.translation import gettext as _

from apps.core.errors import BackendError
from apps.core.runner import CommandError, Runner
from apps.core.validators import is_unix_user

from .base import SmbAccount, SmbShareSpec, SmbStatus
from .samba_parse import parse_pdbedit_list, parse_smbstatus_json, parse_smbstatus_text, problems_in_testparm

__all__ = ["AUDITED_OPERATIONS", "SambaBackend", "render_shares"]

HEADER = ("# Samba shares managed by Calypso (rendered from its database; edits here are replaced).\n"
          "# Included from the main smb.conf.\n")
# full_audit: what changes data or who is connected (reads are not logged).
AUDITED_OPERATIONS = "connect disconnect mkdirat renameat unlinkat pwrite ftruncate fntimes"


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def _share_lines(share: SmbShareSpec) -> list[tuple[str, str]]:
    params: list[tuple[str, str]] = [("path", share.path)]
    if share.comment:
        params.append(("comment", share.comment))
    if not share.available:
        params.append(("available", "no"))
    params += [("read only", _yes(share.read_only)), ("browseable", _yes(share.browseable)),
               ("guest ok", _yes(share.guest_ok))]
    for name, values in (("valid users", share.valid_users), ("admin users", share.admin_users),
                         ("hosts allow", share.hosts_allow), ("hosts deny", share.hosts_deny)):
        if values:
            params.append((name, " ".join(values)))
    if share.case_sensitive != "auto":
        params.append(("case sensitive", share.case_sensitive))
    vfs = [name for name, on in (("full_audit", share.audit), ("recycle", share.recycle),
                                 ("shadow_copy2", share.shadow is not None)) if on]
    if vfs:
        params.append(("vfs objects", " ".join(vfs)))
    if share.audit:
        params += [("full_audit:prefix", "%u|%I|%S"), ("full_audit:success", AUDITED_OPERATIONS),
                   ("full_audit:failure", "connect"), ("full_audit:facility", "local5"),
                   ("full_audit:priority", "notice")]
    if share.recycle:
        params += [("recycle:repository", ".recycle/%U"), ("recycle:keeptree", "yes"), ("recycle:versions", "yes"),
                   ("recycle:touch", "yes"), ("recycle:directory_mode", "0700")]
    if share.shadow is not None:
        params += [("shadow:snapdir", share.shadow.snapdir), ("shadow:format", share.shadow.format),
                   ("shadow:sort", "desc"), ("shadow:localtime", "no")]
        if share.shadow.snapprefix:
            params += [("shadow:snapprefix", share.shadow.snapprefix), ("shadow:delimiter", share.shadow.delimiter)]
    params += list(share.options)
    return params


def render_shares(shares: Sequence[SmbShareSpec]) -> str:
    """The include file: one section per share, in the order given. A value that would not stay one line
    (a line break, a final backslash that joins the next line) is refused, whatever let it through."""
    out = [HEADER]
    for share in shares:
        out.append(f"\n[{share.name}]\n")
        for name, value in _share_lines(share):
            text = str(value)
            if any(c in text for c in "\n\r\x00") or text.rstrip().endswith("\\") or "]" in share.name:
                raise BackendError(_("Share %(s)s: the value of %(n)s would not stay one smb.conf line.")
                                   % {"s": share.name, "n": name})
            out.append(f"\t{name} = {text}\n")
    return "".join(out)


class SambaBackend:
    def __init__(self, runner: Runner, conf: str | Path) -> None:
        self.runner, self.conf = runner, str(conf)

    # ------------------------------------------------------------------ configuration
    def render(self, shares: Sequence[SmbShareSpec]) -> str:
        return render_shares(shares)

    def validate(self, candidate: Path) -> None:
        """``testparm`` on the candidate file: a refusal, or a parameter it ignores, is a ``BackendError``."""
        argv = ["testparm", "-s", "--suppress-prompt", str(candidate)]
        try:
            result = self.runner.run(argv, check=False)
        except CommandError as exc:  # not installed, timed out
            raise BackendError.from_command(exc) from exc
        problems = problems_in_testparm(result.stderr)
        if result.returncode != 0 or problems:
            raise BackendError("; ".join(problems) or result.stderr.strip() or _("testparm refused the file."),
                               argv=result.argv, returncode=result.returncode)

    def include_line(self, include: Path) -> str:
        return f"include = {include}"

    def main_with_include(self, include: Path) -> str | None:
        """The main configuration with Calypso's include line added, or None when it already has it."""
        path = Path(self.conf)
        text = path.read_text(encoding="utf-8") if path.exists() else "[global]\n\tserver role = standalone server\n"
        wanted = re.compile(r"^\s*include\s*=\s*" + re.escape(str(include)) + r"\s*$", re.MULTILINE)
        if wanted.search(text):
            return None
        return text.rstrip("\n") + "\n\n# Shares managed by Calypso\n" + self.include_line(include) + "\n"

    def reload(self) -> bool:
        """Make smbd re-read its configuration; False when smbd is not running (it reads it when it starts)."""
        argv = ["smbcontrol", "-s", self.conf, "smbd", "reload-config"]
        try:
            self.runner.run(argv)
        except CommandError as exc:
            if "Can't find pid" in (exc.stderr + exc.stdout):
                return False
            raise BackendError.from_command(exc, _("smbd did not take the new configuration: %(e)s") % {
                "e": (exc.stderr or exc.stdout).strip() or exc}) from exc
        return True

    # ------------------------------------------------------------------ live view
    def status(self) -> SmbStatus:
        """Sessions, connections and open files: ``--json`` where Samba has it (4.16+), else the plain tables."""
        try:
            result = self.runner.run(["smbstatus", "-s", self.conf, "--json"], check=False)
            if result.returncode == 0:
                return parse_smbstatus_json(result.stdout)
            if "json" not in (result.stderr + result.stdout).lower():
                raise CommandError(result)
            return parse_smbstatus_text(self.runner.run(["smbstatus", "-s", self.conf]).stdout)
        except CommandError as exc:
            raise BackendError.from_command(exc) from exc

    # ------------------------------------------------------------------ accounts
    @staticmethod
    def _user(name: str) -> str:
        if not is_unix_user(name):
            raise BackendError(_("%(n)r is not a valid account name.") % {"n": name})
        return name

    def _call(self, argv: list[str], stdin: str | None = None) -> None:
        try:
            self.runner.run(argv, stdin=stdin)
        except CommandError as exc:
            raise BackendError.from_command(exc) from exc

    def unix_account_uid(self, name: str) -> int | None:
        """The uid of the Unix account ``name``, or None when there is none."""
        try:
            result = self.runner.run(["getent", "passwd", self._user(name)], check=False)
        except CommandError as exc:  # getent missing, timed out
            raise BackendError.from_command(exc) from exc
        if result.returncode == 2:  # no such account
            return None
        if result.returncode != 0:
            raise BackendError.from_command(CommandError(result))
        fields = result.stdout.strip().split(":")
        if len(fields) < 3 or not fields[2].isdigit():
            raise BackendError(_("getent printed no account line for %(n)s.") % {"n": name})
        return int(fields[2])

    def create_unix_account(self, name: str) -> None:
        """A system account with no home and no shell: it owns files, it cannot log in."""
        self._call(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent", "--shell",
                    "/usr/sbin/nologin", "--user-group", self._user(name)])

    def delete_unix_account(self, name: str) -> None:
        self._call(["userdel", self._user(name)])

    def set_password(self, name: str, password: str) -> None:
        """Add the account to Samba's database, or change its password (``smbpasswd -a`` does both)."""
        if any(c in password for c in "\n\r\x00"):
            raise BackendError(_("A password is one line."))
        self._call(["smbpasswd", "-c", self.conf, "-s", "-a", self._user(name)], stdin=f"{password}\n{password}\n")

    def enable(self, name: str) -> None:
        self._call(["smbpasswd", "-c", self.conf, "-e", self._user(name)])

    def disable(self, name: str) -> None:
        self._call(["smbpasswd", "-c", self.conf, "-d", self._user(name)])

    def delete_account(self, name: str) -> None:
        self._call(["smbpasswd", "-c", self.conf, "-x", self._user(name)])

    def accounts(self) -> list[SmbAccount]:
        try:
            result = self.runner.run(["pdbedit", "-s", self.conf, "-L"])
        except CommandError as exc:
            raise BackendError.from_command(exc) from exc
        return parse_pdbedit_list(result.stdout)
