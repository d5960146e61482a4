"""The Linux SCSI target framework (tgt): live changes through ``tgtadm``, persistence in a targets.conf file.

Applying a configuration reads what tgtd has (``tgtadm --op show``), works out the fewest ``tgtadm`` commands
that make it match, and runs them one by one; each has its undo, and when one fails the ones already run are
undone in reverse order (the error says so), so tgtd is left as it was. Then the whole configuration is
written, in tgt-admin's targets.conf syntax, to ``integration_path("tgt", "calypso.conf")`` (mode 0600: it
holds CHAP secrets), for the next boot. On an appliance ``/etc/tgt/conf.d/calypso.conf`` holds the one line
``include /etc/calypso/integrations/tgt/calypso.conf``, so tgt's own service loads it at boot.

Calypso owns tgtd: targets and accounts tgtd has but the configuration does not are removed.

Mapping to tgt:

- LUN numbers are kept as given; tgt keeps LUN 0 of every target for its controller, so LUNs are 1-255
  (``min_lun``) and LUN 0 is refused before anything runs.
- tgt admits an initiator whose address is in a target's address list or whose name is in its name list
  (recorded on a real tgtd: with both lists set, either one is enough). That is the initiator groups' own
  meaning: the addresses are every group's networks and the names every group's initiators; a group with
  neither admits anyone (``ALL``). A target without groups gets no ACL entry: tgtd refuses every initiator.
- CHAP accounts are global in tgtd: a user name is one account, so it has one secret everywhere.
- Portals: when the configuration has portals, tgtd's listening portals are made exactly those; without any,
  tgtd's own (its start options, 0.0.0.0:3260 by default) are left alone. targets.conf cannot hold portals:
  after a reboot tgtd listens where it is started to until the next change. Every target is served on every
  portal, and tgt has no target alias.
- ``CALYPSO_TGT_CONTROL_PORT``: tgtd's management port (``tgtd -C N``), passed as ``-C N`` to every tgtadm.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from apps.core.configfiles import HEADER, install
from apps.core.errors import BackendError, Unsupported
from apps.core.runner import CommandError, Runner, mask_argv

from .base import Applied, HostLun, HostSession, HostTarget, IscsiConfig, LunConfig, PortalConfig, TargetConfig
from .tgt_parse import parse_show_account, parse_show_portal, parse_show_target

__all__ = ["Step", "TgtBackend", "tgt_acl"]

Argv = tuple[str, ...]


TAPE_LUN_KINDS = frozenset({"changer", "tape"})


def _tape_library(target: HostTarget) -> bool:
    """A virtual tape library (a changer and tape drives, the tape app's): never an iSCSI target to remove."""
    return any(lun.kind in TAPE_LUN_KINDS for lun in target.luns)


@dataclass(frozen=True)
class Step:
    do: Argv
    undo: tuple[Argv, ...] = ()  # run in order to take ``do`` back


def tgt_acl(target: TargetConfig) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(initiator addresses, initiator names) tgtd gets for ``target`` (see the module's docstring)."""
    addresses = [n for g in target.groups for n in g.networks]
    if any(not g.networks and not g.initiators for g in target.groups):
        addresses.append("ALL")
    names = [i for g in target.groups for i in g.initiators]
    return tuple(dict.fromkeys(addresses)), tuple(dict.fromkeys(names))


@dataclass
class _Plan:
    steps: list[Step] = field(default_factory=list)
    tids: dict[str, int] = field(default_factory=dict)

    def add(self, do: Argv, *undo: Argv) -> None:
        self.steps.append(Step(do, tuple(undo)))


class TgtBackend:
    name = "tgt"
    min_lun = 1

    def __init__(self, runner: Runner, *, control_port: int = 0, conf_path: str | Path) -> None:
        self.runner = runner
        self.control_port = int(control_port or 0)
        self.conf_path = Path(conf_path)

    # ------------------------------------------------------------ commands
    def _tgtadm(self, *args: str) -> Argv:
        port = ("-C", str(self.control_port)) if self.control_port else ()
        return ("tgtadm", *port, "--lld", "iscsi", *args)

    def _show(self, mode: str) -> str:
        argv = self._tgtadm("--op", "show", "--mode", mode)
        try:
            return self.runner.run(argv).stdout
        except CommandError as exc:
            raise BackendError.from_command(exc, f"tgtd did not answer ({' '.join(argv)}): "
                                                 f"{(exc.stderr or exc.stdout).strip() or exc}") from exc

    def config_path(self) -> str:
        return str(self.conf_path)

    def targets(self) -> list[HostTarget]:
        return parse_show_target(self._show("target"))

    def sessions(self) -> list[HostSession]:
        return [s for t in self.targets() for s in t.sessions]

    # ------------------------------------------------------------ rendering (targets.conf, tgt-admin syntax)
    def render(self, config: IscsiConfig) -> str:
        out = [HEADER, "# iSCSI targets for tgt (tgt-admin targets.conf syntax). Contains CHAP secrets.\n"]
        if config.portals:
            out.append("# tgtd portals (set live with tgtadm; not part of this syntax): "
                       + ", ".join(str(p) for p in config.portals) + "\n")
        out.append("default-driver iscsi\n")
        for target in config.targets:
            addresses, names = tgt_acl(target)
            out.append(f"\n<target {target.iqn}>\n")
            for lun in target.luns:
                out.append(f"    <backing-store {lun.path}>\n        lun {lun.lun}\n")
                if lun.block_size != 512:
                    out.append(f"        block-size {lun.block_size}\n")
                if lun.read_only:
                    out.append("        readonly 1\n")
                if lun.serial:
                    out.append(f"        scsi_sn {lun.serial}\n")
                out.append("    </backing-store>\n")
            out.extend(f"    initiator-address {a}\n" for a in addresses)
            out.extend(f"    initiator-name {n}\n" for n in names)
            if target.incoming:
                out.append(f"    incominguser {target.incoming.user} {target.incoming.secret}\n")
            if target.outgoing:
                out.append(f"    outgoinguser {target.outgoing.user} {target.outgoing.secret}\n")
            out.append("</target>\n")
        return "".join(out)

    def _persisted_secrets(self) -> dict[str, str]:
        """The CHAP secrets tgtd was last given (tgtd never shows them): from the file last written."""
        try:
            text = self.conf_path.read_text(encoding="utf-8")
        except OSError:
            return {}
        found = re.findall(r"^\s*(?:incominguser|outgoinguser) (\S+) (\S+)$", text, re.MULTILINE)
        return dict(found)

    # ------------------------------------------------------------ planning
    def plan(self, config: IscsiConfig, host: list[HostTarget], accounts: list[str],
             portals: list[PortalConfig] | None, known_secrets: dict[str, str]) -> _Plan:
        """The tgtadm commands (each with its undo) that turn ``host`` into ``config``; pure."""
        plan = _Plan()
        wanted_accounts = self._wanted_accounts(config)
        for target in config.targets:
            for lun in target.luns:
                if lun.lun < self.min_lun:
                    raise Unsupported(f"tgt keeps LUN 0 of {target.iqn} for its controller: use LUN 1 to 255.")
        if config.portals and portals is not None:
            self._plan_portals(plan, config.portals, portals)
        current = {t.iqn: t for t in host}
        self._plan_accounts(plan, wanted_accounts, accounts, host, known_secrets)
        used = {t.tid for t in host if t.tid is not None}
        for target in config.targets:
            have = current.get(target.iqn)
            if have is None:
                tid = next(n for n in range(1, 1 << 20) if n not in used)
                used.add(tid)
                self._plan_new_target(plan, tid, target)
            else:
                tid = have.tid
                self._plan_target_changes(plan, tid, have, target)
            plan.tids[target.iqn] = tid
        wanted = {t.iqn for t in config.targets}
        for have in host:
            if have.iqn not in wanted and not _tape_library(have):
                plan.add(self._tgtadm("--op", "delete", "--force", "--mode", "target", "--tid", str(have.tid)),
                         *self._recreate(have, known_secrets))
        for user in accounts:
            if user not in wanted_accounts:
                undo = (self._tgtadm("--op", "new", "--mode", "account", "--user", user, "--password",
                                     known_secrets[user]),) if user in known_secrets else ()
                plan.add(self._tgtadm("--op", "delete", "--mode", "account", "--user", user), *undo)
        return plan

    @staticmethod
    def _wanted_accounts(config: IscsiConfig) -> dict[str, str]:
        wanted: dict[str, str] = {}
        for target in config.targets:
            for chap in (target.incoming, target.outgoing):
                if chap is None:
                    continue
                if wanted.setdefault(chap.user, chap.secret) != chap.secret:
                    raise Unsupported(f"tgt has one account per CHAP user: {chap.user} cannot have two secrets.")
        return wanted

    def _plan_portals(self, plan: _Plan, wanted: tuple[PortalConfig, ...], have: list[PortalConfig]) -> None:
        def arg(p: PortalConfig) -> str:
            return f"portal={p}"

        for portal in wanted:
            if portal not in have:
                plan.add(self._tgtadm("--op", "new", "--mode", "portal", "--param", arg(portal)),
                         self._tgtadm("--op", "delete", "--mode", "portal", "--param", arg(portal)))
        for portal in have:
            if portal not in wanted:
                plan.add(self._tgtadm("--op", "delete", "--mode", "portal", "--param", arg(portal)),
                         self._tgtadm("--op", "new", "--mode", "portal", "--param", arg(portal)))

    def _account(self, op: str, tid: int | None, user: str, *, outgoing: bool = False,
                 secret: str | None = None) -> Argv:
        args = ["--op", op, "--mode", "account"]
        if tid is not None:
            args += ["--tid", str(tid)]
        args += ["--user", user]
        if secret is not None:
            args += ["--password", secret]
        if outgoing:
            args.append("--outgoing")
        return self._tgtadm(*args)

    def _plan_accounts(self, plan: _Plan, wanted: dict[str, str], have: list[str], host: list[HostTarget],
                       known: dict[str, str]) -> None:
        for user, secret in wanted.items():
            if user not in have:
                plan.add(self._account("new", None, user, secret=secret), self._account("delete", None, user))
            elif known.get(user) != secret:  # the secret changed (or is unknown): make the account again
                bound = [(t.tid, out) for t in host for out, users in ((False, t.incoming), (True, t.outgoing))
                         if user in users]
                for tid, out in bound:
                    plan.add(self._account("unbind", tid, user, outgoing=out), self._account("bind", tid, user,
                                                                                              outgoing=out))
                undo = (self._account("new", None, user, secret=known[user]),) if user in known else ()
                plan.add(self._account("delete", None, user), *undo)
                plan.add(self._account("new", None, user, secret=secret), self._account("delete", None, user))
                for tid, out in bound:
                    plan.add(self._account("bind", tid, user, outgoing=out), self._account("unbind", tid, user,
                                                                                            outgoing=out))

    def _lun_steps(self, tid: int, lun: LunConfig | HostLun) -> list[Argv]:
        block = lun.block_size or 512
        steps = [self._tgtadm("--op", "new", "--mode", "logicalunit", "--tid", str(tid), "--lun", str(lun.lun),
                              "-b", lun.path, "--blocksize", str(block))]
        params = [p for p in ("readonly=1" if lun.read_only else "", f"scsi_sn={lun.serial}" if lun.serial else "")
                  if p]
        if params:
            steps.append(self._tgtadm("--op", "update", "--mode", "logicalunit", "--tid", str(tid), "--lun",
                                      str(lun.lun), "--params", ",".join(params)))
        return steps

    def _bind(self, op: str, tid: int, address: str | None = None, name: str | None = None) -> Argv:
        flag, value = ("-I", address) if address is not None else ("-Q", name)
        return self._tgtadm("--op", op, "--mode", "target", "--tid", str(tid), flag, value)

    def _plan_new_target(self, plan: _Plan, tid: int, target: TargetConfig) -> None:
        # What follows the target's creation needs no undo of its own: deleting the target takes it all.
        plan.add(self._tgtadm("--op", "new", "--mode", "target", "--tid", str(tid), "-T", target.iqn),
                 self._tgtadm("--op", "delete", "--force", "--mode", "target", "--tid", str(tid)))
        for lun in target.luns:
            for argv in self._lun_steps(tid, lun):
                plan.add(argv)
        addresses, names = tgt_acl(target)
        for address in addresses:
            plan.add(self._bind("bind", tid, address=address))
        for name in names:
            plan.add(self._bind("bind", tid, name=name))
        if target.incoming:
            plan.add(self._account("bind", tid, target.incoming.user))
        if target.outgoing:
            plan.add(self._account("bind", tid, target.outgoing.user, outgoing=True))

    @staticmethod
    def _same_lun(have: HostLun, want: LunConfig) -> bool:
        return (have.path == want.path and (have.block_size or 512) == want.block_size
                and have.read_only == want.read_only and (not want.serial or have.serial == want.serial))

    def _plan_target_changes(self, plan: _Plan, tid: int, have: HostTarget, want: TargetConfig) -> None:
        # Narrow first (unbind, remove), then widen: access is never broader than either state in between.
        addresses, names = tgt_acl(want)
        for address in have.addresses:
            if address not in addresses:
                plan.add(self._bind("unbind", tid, address=address), self._bind("bind", tid, address=address))
        for name in have.initiators:
            if name not in names:
                plan.add(self._bind("unbind", tid, name=name), self._bind("bind", tid, name=name))
        for out, users, chap in ((False, have.incoming, want.incoming), (True, have.outgoing, want.outgoing)):
            for user in users:
                if chap is None or chap.user != user:
                    plan.add(self._account("unbind", tid, user, outgoing=out),
                             self._account("bind", tid, user, outgoing=out))
        wanted_luns = {lun.lun: lun for lun in want.luns}
        have_luns = {lun.lun: lun for lun in have.luns if lun.lun != 0}
        for number, lun in have_luns.items():
            if number not in wanted_luns or not self._same_lun(lun, wanted_luns[number]):
                plan.add(self._tgtadm("--op", "delete", "--mode", "logicalunit", "--tid", str(tid), "--lun",
                                      str(number)), *self._lun_steps(tid, lun))
        for number, lun in wanted_luns.items():
            if number not in have_luns or not self._same_lun(have_luns[number], lun):
                first, *rest = self._lun_steps(tid, lun)
                plan.add(first, self._tgtadm("--op", "delete", "--mode", "logicalunit", "--tid", str(tid), "--lun",
                                             str(number)))
                for argv in rest:
                    plan.add(argv)
        for address in addresses:
            if address not in have.addresses:
                plan.add(self._bind("bind", tid, address=address), self._bind("unbind", tid, address=address))
        for name in names:
            if name not in have.initiators:
                plan.add(self._bind("bind", tid, name=name), self._bind("unbind", tid, name=name))
        for out, users, chap in ((False, have.incoming, want.incoming), (True, have.outgoing, want.outgoing)):
            if chap is not None and chap.user not in users:
                plan.add(self._account("bind", tid, chap.user, outgoing=out),
                         self._account("unbind", tid, chap.user, outgoing=out))

    def _recreate(self, have: HostTarget, known: dict[str, str]) -> list[Argv]:
        """Commands that make a deleted target again as tgtd showed it (the undo of its deletion)."""
        tid = have.tid
        argv = [self._tgtadm("--op", "new", "--mode", "target", "--tid", str(tid), "-T", have.iqn)]
        for lun in have.luns:
            if lun.lun != 0 and lun.path:
                argv.extend(self._lun_steps(tid, lun))
        argv.extend(self._bind("bind", tid, address=a) for a in have.addresses)
        argv.extend(self._bind("bind", tid, name=n) for n in have.initiators)
        argv.extend(self._account("bind", tid, u) for u in have.incoming)
        argv.extend(self._account("bind", tid, u, outgoing=True) for u in have.outgoing)
        return argv

    # ------------------------------------------------------------ applying
    def apply(self, config: IscsiConfig) -> Applied:
        known = self._persisted_secrets()
        host = parse_show_target(self._show("target"))
        accounts = parse_show_account(self._show("account"))
        portals = parse_show_portal(self._show("portal")) if config.portals else None
        plan = self.plan(config, host, accounts, portals, known)
        done: list[Step] = []
        for step in plan.steps:
            try:
                self.runner.run(step.do)
            except CommandError as exc:
                raise self._failed(step.do, exc, done) from exc
            done.append(step)
        try:
            install(self.conf_path, self.render(config), mode=0o600)
        except (OSError, BackendError) as exc:
            note = self._undo(done)
            raise BackendError(f"Writing {self.conf_path} failed ({exc}); {note}") from exc
        return Applied(tids=plan.tids, commands=len(done))

    def _undo(self, done: list[Step]) -> str:
        failures = []
        for step in reversed(done):
            for argv in step.undo:
                try:
                    self.runner.run(argv)
                except CommandError as exc:
                    failures.append(f"`{shlex.join(mask_argv(argv))}`: {(exc.stderr or exc.stdout).strip()}")
        if not done:
            return "nothing had been changed."
        if failures:
            return (f"undoing the {len(done)} commands already run, in reverse order, failed for "
                    + "; ".join(failures) + ": check the targets with tgtadm --op show.")
        return f"the {len(done)} commands already run were undone in reverse order; tgtd is as it was."

    def _failed(self, argv: Argv, exc: CommandError, done: list[Step]) -> BackendError:
        why = (exc.stderr or exc.stdout).strip() or str(exc.returncode)
        note = self._undo(done)
        return BackendError(f"`{shlex.join(mask_argv(argv))}` failed: {why}; {note}", argv=mask_argv(argv),
                            returncode=exc.returncode, stderr="")
