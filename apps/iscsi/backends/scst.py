"""SCST: the whole configuration rendered into ``scst.conf`` (``CALYPSO_SCST_CONF``), checked with
``scstadmin -check_config`` and applied with ``scstadmin -config FILE -force -noprompt`` (``-force`` lets
scstadmin remove what the file no longer has), through ``apps.core.configfiles.install``: a refused or
failed apply puts the previous file back and applies it again.

Mapping to SCST:

- each LUN is a device of handler ``vdisk_blockio`` (a zvol) or ``vdisk_fileio`` (a file), named
  ``c<hash of the IQN>_<lun>`` (stable, unique, within SCST's name limits);
- a target has no default LUNs: each initiator group is a ``GROUP`` with every LUN of the target and one
  ``INITIATOR`` line per IQN (``*``: any name), so initiators in no group see nothing. SCST matches initiators
  by name only: a group with networks cannot be expressed and is refused;
- CHAP: ``IncomingUser``/``OutgoingUser`` of the target; portals: ``allowed_portal`` (none: all); the alias:
  ``alias``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from apps.core.configfiles import HEADER, install
from apps.core.errors import BackendError, Unsupported
from apps.core.runner import CommandError, Runner

from .base import Applied, HostSession, HostTarget, IscsiConfig, LunConfig, TargetConfig
from .scst_parse import SESSIONS_ROOT, parse_list_target, parse_sysfs_sessions

__all__ = ["ScstBackend", "device_name"]


def device_name(iqn: str, lun: int) -> str:
    return f"c{hashlib.sha256(iqn.encode()).hexdigest()[:12]}_{lun}"


def _quoted(value: str) -> str:
    return '"' + value + '"'  # users and secrets are validated: no quotes, spaces or backslashes


class ScstBackend:
    name = "scst"
    min_lun = 0

    def __init__(self, runner: Runner, *, conf_path: str | Path) -> None:
        self.runner = runner
        self.conf_path = Path(conf_path)

    def config_path(self) -> str:
        return str(self.conf_path)

    def _run(self, argv: list[str]) -> str:
        try:
            return self.runner.run(argv, timeout=120).stdout
        except CommandError as exc:
            raise BackendError.from_command(exc) from exc

    # ------------------------------------------------------------ rendering
    def _device(self, target: TargetConfig, lun: LunConfig) -> list[str]:
        out = [f"\tDEVICE {device_name(target.iqn, lun.lun)} {{\n", f"\t\tfilename {lun.path}\n"]
        if lun.block_size != 512:
            out.append(f"\t\tblocksize {lun.block_size}\n")
        if lun.read_only:
            out.append("\t\tread_only 1\n")
        if lun.serial:
            out.append(f"\t\tusn {lun.serial}\n")
        out.append("\t}\n")
        return out

    def render(self, config: IscsiConfig) -> str:
        out = [HEADER, "# SCST configuration of Calypso's iSCSI targets. Contains CHAP secrets.\n"]
        for handler, block in (("vdisk_blockio", True), ("vdisk_fileio", False)):
            devices = [line for t in config.targets for lun in t.luns if lun.block_device == block
                       for line in self._device(t, lun)]
            if devices:
                out.append(f"\nHANDLER {handler} {{\n")
                out.extend(devices)
                out.append("}\n")
        out.append("\nTARGET_DRIVER iscsi {\n\tenabled 1\n")
        for target in config.targets:
            out.extend(self._target(target))
        out.append("}\n")
        return "".join(out)

    def _target(self, target: TargetConfig) -> list[str]:
        out = [f"\n\tTARGET {target.iqn} {{\n"]
        if target.incoming:
            out.append(f"\t\tIncomingUser {_quoted(f'{target.incoming.user} {target.incoming.secret}')}\n")
        if target.outgoing:
            out.append(f"\t\tOutgoingUser {_quoted(f'{target.outgoing.user} {target.outgoing.secret}')}\n")
        if target.alias:
            out.append(f"\t\talias {target.alias}\n")
        out.extend(f"\t\tallowed_portal {p.address}\n" for p in target.portals)
        out.append("\t\tenabled 1\n")
        for group in target.groups:
            if group.networks:
                raise Unsupported(f"SCST matches initiators by name only: initiator group {group.name} of "
                                  f"{target.iqn} lists networks. Remove them, or use tgt.")
            out.append(f"\n\t\tGROUP {group.name} {{\n")
            out.extend(f"\t\t\tLUN {lun.lun} {device_name(target.iqn, lun.lun)}\n" for lun in target.luns)
            out.extend(f"\t\t\tINITIATOR {name}\n" for name in (group.initiators or ("*",)))
            out.append("\t\t}\n")
        out.append("\t}\n")
        return out

    # ------------------------------------------------------------ applying
    def apply(self, config: IscsiConfig) -> Applied:
        text = self.render(config)
        install(self.conf_path, text, mode=0o600, force=True,
                validate=lambda candidate: self._run(["scstadmin", "-check_config", str(candidate)]),
                activate=lambda: self._run(["scstadmin", "-config", str(self.conf_path), "-force", "-noprompt"]))
        return Applied(commands=2)

    # ------------------------------------------------------------ reading
    def targets(self) -> list[HostTarget]:
        listed = parse_list_target(self._run(["scstadmin", "-list_target", "-driver", "iscsi"]))
        sessions = self.sessions()
        return [HostTarget(iqn=iqn, sessions=tuple(s for s in sessions if s.target == iqn))
                for iqn in listed.get("iscsi", [])]

    def sessions(self) -> list[HostSession]:
        return parse_sysfs_sessions(self._run(["find", SESSIONS_ROOT, "-mindepth", "4", "-maxdepth", "4", "-type",
                                               "d", "-path", "*/sessions/*"]))
