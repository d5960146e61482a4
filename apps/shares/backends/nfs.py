"""NFS servers: the kernel's (an exports file under ``/etc/exports.d``, ``exportfs -ra`` to apply it,
``exportfs -v`` to read back what is exported) and NFS-Ganesha (EXPORT blocks in a file the main
``ganesha.conf`` includes, re-read on SIGHUP).

Both take the same frozen descriptions (``NfsExportSpec``) and render a whole file from them; the service
installs it through ``apps.core.configfiles.install`` (validate the candidate, replace, activate, put the
previous file back on failure). Names reaching a command line or a file are validated before they get here;
the renderers still refuse what the format cannot carry.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from django.utils.translation import gettext as _

from apps.core.errors import BackendError, ParseError
from apps.core.runner import CommandError, Runner

from .base import NfsClientSpec, NfsExportSpec, NfsStatus
from .nfs_parse import parse_exportfs_v, parse_exports, parse_ganesha_exports

__all__ = ["GaneshaBackend", "KernelNfsBackend", "render_exports", "render_ganesha_exports"]

_HOST = re.compile(r"^[A-Za-z0-9@*?:._/-]{1,255}$")  # nothing that ends a client or splits a line
NFS_PATH_FORBIDDEN = re.compile(r'["\\#\x00-\x1f\x7f]')
MAX_EXPORT_ID = 65535  # Ganesha's Export_Id is 16 bits; 0 is its pseudo-root


def _check(export: NfsExportSpec) -> None:
    if not export.path.startswith("/") or NFS_PATH_FORBIDDEN.search(export.path) or export.path != export.path.strip():
        raise BackendError(_("%(p)r cannot be written as an exported path.") % {"p": export.path})
    for client in export.clients:
        if not _HOST.fullmatch(client.host):
            raise BackendError(_("%(h)r cannot be written as an NFS client.") % {"h": client.host})


# ---------------------------------------------------------------------------------------------- kernel
KERNEL_HEADER = ("# NFS exports managed by Calypso (rendered from its database; edits here are replaced).\n"
                 "# Read by exportfs with /etc/exports; see exports(5).\n")


def _kernel_options(client: NfsClientSpec) -> str:
    options = [client.access, "sync" if client.sync else "async", client.squash]
    if client.anonuid is not None:
        options.append(f"anonuid={client.anonuid}")
    if client.anongid is not None:
        options.append(f"anongid={client.anongid}")
    options += [f"sec={':'.join(client.sec)}", "no_subtree_check"]
    return ",".join(options)


def _kernel_path(path: str) -> str:
    """exports(5): a path with a space is written in double quotes."""
    return f'"{path}"' if any(c.isspace() for c in path) else path


def render_exports(exports: Sequence[NfsExportSpec]) -> str:
    """The exports file: one line per export (a disabled one as a comment), its clients in the order given."""
    out = [KERNEL_HEADER]
    for export in exports:
        _check(export)
        if export.description:
            out.append(f"# {export.description}\n")
        line = " ".join([_kernel_path(export.path),
                         *(f"{c.host}({_kernel_options(c)})" for c in export.clients)])
        out.append(f"{line}\n" if export.enabled else f"# disabled: {line}\n")
    return "".join(out)


class KernelNfsBackend:
    name = "kernel"

    def __init__(self, runner: Runner, exports_file: str | Path) -> None:
        self.runner, self.exports_file = runner, Path(exports_file)
        self.warnings: tuple[str, ...] = ()

    def config_path(self) -> Path:
        return self.exports_file

    def render(self, exports: Sequence[NfsExportSpec]) -> str:
        return render_exports(exports)

    def validate(self, candidate: Path) -> None:
        """exportfs has no check of a file that is not in place: the candidate is read back here, every line
        and option as Calypso writes them (exportfs -ra judges the rest, and a refusal puts the old file
        back)."""
        try:
            parse_exports(candidate.read_text(encoding="utf-8"))
        except ParseError as exc:
            raise BackendError(str(exc), argv=("exports",)) from exc

    def main_with_include(self) -> None:
        return None  # exportfs reads every /etc/exports.d/*.exports itself

    def activate(self) -> bool:
        """``exportfs -ra``: export what the files say and withdraw what they no longer say."""
        argv = ["exportfs", "-ra"]
        try:
            result = self.runner.run(argv)
        except CommandError as exc:
            raise BackendError(_("exportfs -ra failed (exit %(rc)s): %(e)s") % {
                "rc": exc.returncode, "e": (exc.stderr or exc.stdout).strip() or exc}, argv=exc.argv,
                returncode=exc.returncode) from exc
        # e.g. "exportfs: Failed to resolve host.example.com": exported, but that client is left out for now
        self.warnings = tuple(dict.fromkeys(line.strip() for line in result.stderr.splitlines() if line.strip()))
        return True

    def status(self) -> NfsStatus:
        try:
            result = self.runner.run(["exportfs", "-v"])
        except CommandError as exc:
            raise BackendError.from_command(exc) from exc
        return NfsStatus(backend=self.name, running=True, exports=parse_exportfs_v(result.stdout),
                         source="exportfs -v")


# ---------------------------------------------------------------------------------------------- NFS-Ganesha
GANESHA_HEADER = ("# NFS-Ganesha exports managed by Calypso (rendered from its database; edits here are replaced).\n"
                  "# Included from the main ganesha.conf. NFSv4 over TCP; Ganesha has no sync/async export "
                  "option (it commits as each client asks).\n")


def _ganesha_string(value: str) -> str:
    return '"' + value + '"'  # paths are checked to hold no " or \


_GANESHA_FIELD = re.compile(r"^\t(Export_Id|Path|Pseudo) = (.*);$", re.MULTILINE)


def render_ganesha_exports(exports: Sequence[NfsExportSpec]) -> str:
    """One EXPORT block per enabled export: Export_Id is the row's id (stable), Pseudo the path itself;
    clients not listed get nothing (Access_Type = None at the export)."""
    out = [GANESHA_HEADER]
    for export in exports:
        _check(export)
        if not 0 < export.export_id <= MAX_EXPORT_ID:
            raise BackendError(_("Export id %(i)d is outside NFS-Ganesha's 1-%(m)d.") % {
                "i": export.export_id, "m": MAX_EXPORT_ID})
        if not export.enabled:
            out.append(f"\n# disabled: {export.path} (Export_Id {export.export_id})\n")
            continue
        out.append("\n")
        if export.description:
            out.append(f"# {export.description}\n")
        out += ["EXPORT {\n", f"\tExport_Id = {export.export_id};\n", f"\tPath = {_ganesha_string(export.path)};\n",
                f"\tPseudo = {_ganesha_string(export.path)};\n", "\tAccess_Type = None;\n",
                "\tSquash = root_squash;\n", "\tProtocols = 4;\n", "\tTransports = TCP;\n",
                f"\tSecType = {', '.join(_union(c.sec for c in export.clients))};\n",
                "\tFSAL {\n\t\tName = VFS;\n\t}\n"]
        for client in export.clients:
            out += ["\tCLIENT {\n", f"\t\tClients = {client.host};\n",
                    f"\t\tAccess_Type = {client.access.upper()};\n", f"\t\tSquash = {client.squash};\n",
                    f"\t\tSecType = {', '.join(client.sec)};\n"]
            if client.anonuid is not None:
                out.append(f"\t\tAnonymous_Uid = {client.anonuid};\n")
            if client.anongid is not None:
                out.append(f"\t\tAnonymous_Gid = {client.anongid};\n")
            out.append("\t}\n")
        out.append("}\n")
    return "".join(out)


def _union(groups) -> list[str]:
    seen: list[str] = []
    for group in groups:
        seen += [s for s in group if s not in seen]
    return seen or ["sys"]


class GaneshaBackend:
    name = "ganesha"

    def __init__(self, runner: Runner, main_conf: str | Path, exports_conf: str | Path, pid_file: str | Path) -> None:
        self.runner, self.main_conf = runner, Path(main_conf)
        self.exports_conf, self.pid_file = Path(exports_conf), Path(pid_file)

    def config_path(self) -> Path:
        return self.exports_conf

    def render(self, exports: Sequence[NfsExportSpec]) -> str:
        return render_ganesha_exports(exports)

    def validate(self, candidate: Path) -> None:
        """Ganesha checks a configuration only when it reads it (and then only logs), so the candidate is checked
        here: every EXPORT block has its Export_Id, Path, Pseudo, FSAL and clients, and no two share an id or a
        pseudo path. The file is Calypso's own rendering, read line by line as it writes it (one pass, whatever
        the count: a full parse of 500 exports would cost more than Ganesha's own reload)."""
        text = candidate.read_text(encoding="utf-8")
        blocks = text.split("\nEXPORT {\n")[1:]
        ids, pseudos = set(), set()
        for block in blocks:
            fields = dict(_GANESHA_FIELD.findall(block.split("\n\tCLIENT {\n", 1)[0]))
            missing = [k for k in ("Export_Id", "Path", "Pseudo") if k not in fields]
            if "\tFSAL {\n" not in block:
                missing.append("FSAL")
            if missing or "\t\tClients = " not in block:
                raise BackendError(_("An EXPORT block lacks %(k)s.") % {"k": ", ".join(missing) or "Clients"},
                                   argv=("ganesha.conf",))
            if fields["Export_Id"] in ids or fields["Pseudo"] in pseudos:
                raise BackendError(_("Export_Id %(i)s or Pseudo %(p)s is used twice.") % {
                    "i": fields["Export_Id"], "p": fields["Pseudo"]}, argv=("ganesha.conf",))
            ids.add(fields["Export_Id"])
            pseudos.add(fields["Pseudo"])

    def include_line(self) -> str:
        return f'%include "{self.exports_conf}"'

    def main_with_include(self) -> tuple[Path, str] | None:
        """The main ganesha.conf with Calypso's ``%include`` line added, or None when it already has it."""
        text = self.main_conf.read_text(encoding="utf-8") if self.main_conf.exists() else ""
        wanted = re.compile(r'^\s*%include\s+"?' + re.escape(str(self.exports_conf)) + r'"?\s*$', re.MULTILINE)
        if wanted.search(text):
            return None
        body = text.rstrip("\n") + "\n\n" if text.strip() else ""
        return self.main_conf, body + "# NFS exports managed by Calypso\n" + self.include_line() + "\n"

    def _pid(self) -> int | None:
        try:
            text = self.pid_file.read_text(encoding="ascii").strip()
        except (FileNotFoundError, UnicodeDecodeError):
            return None
        if not text:
            return None
        if not text.isdigit() or int(text) < 2:
            raise BackendError(_("%(f)s does not hold a process id (%(t)r).") % {"f": self.pid_file, "t": text[:40]})
        return int(text)

    def activate(self) -> bool:
        """SIGHUP to the running ganesha.nfsd: it re-reads its exports (adds, changes and removes them).
        False when no pid file says it runs."""
        pid = self._pid()
        if pid is None:
            return False
        argv = ["kill", "-HUP", str(pid)]
        try:
            self.runner.run(argv)
        except CommandError as exc:
            raise BackendError(_("NFS-Ganesha (pid %(p)d from %(f)s) could not be told to reload: %(e)s") % {
                "p": pid, "f": self.pid_file, "e": (exc.stderr or exc.stdout).strip() or exc}, argv=exc.argv,
                returncode=exc.returncode) from exc
        return True

    def status(self) -> NfsStatus:
        """Whether ganesha.nfsd runs (its pid file), and the exports of the installed file (Ganesha reports
        its live exports only over D-Bus)."""
        try:
            pid = self._pid()
        except BackendError:
            pid = None
        text = self.exports_conf.read_text(encoding="utf-8") if self.exports_conf.exists() else ""
        return NfsStatus(backend=self.name, running=pid is not None and Path(f"/proc/{pid}").exists(),
                         exports=parse_ganesha_exports(text), source=str(self.exports_conf))
