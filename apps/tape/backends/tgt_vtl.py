"""A virtual tape library on tgt: tape drives (``--device-type tape --bstype ssc``) and a changer
(``--device-type changer --bstype smc``) as LUNs of one iSCSI target, and its media as ``tgtimg`` files.

Layout of a library with n drives (recorded on tgt 1.0.85):

- LUNs 1..n are the drives, made without a backing store: empty until the changer moves a medium in, when
  tgtd opens ``media_home/<barcode>`` as the drive's backing store and puts it online;
- LUN n+1 is the changer, its backing store a 1 KiB file ``media_home/<library name>.smc`` (lower case, so
  never a barcode); element addresses: picker 1, import/export from 10, drives from 500, storage slots from
  1000 (slot s is address 999 + s);
- each medium is ``media_home/<barcode>``, made by ``tgtimg --thin-provisioning``. tgtimg overwrites an existing
  file, so a library whose media files already exist is refused before anything runs.

tgt takes barcodes of up to 10 characters and SCSI INQUIRY fields of 8 (vendor) and 16 (product)
characters; longer ones are refused here rather than half-applied. The library's state (which medium is in
which slot or drive) lives in tgtd's memory; only the media files persist. ``CALYPSO_TGT_CONTROL_PORT``:
tgtd's management port, passed as ``-C N`` to every tgtadm.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from django.core.exceptions import ValidationError

from apps.core import validators as core_validators
from apps.core.errors import BackendError, Unsupported
from apps.core.runner import CommandError, Runner
from apps.core.validators import ip_network_or_none

from .base import LibrarySpec, validate_barcode, validate_library_spec
from .tgt_vtl_parse import ShownLibrary, ShownTarget, libraries, parse_show_target

__all__ = ["DRIVE_BASE", "IE_BASE", "MAX_BARCODE", "PICKER", "SLOT_BASE", "TgtLibraryBackend", "changer_file",
           "validate_iqn", "validate_media_home"]

PICKER, IE_BASE, DRIVE_BASE, SLOT_BASE = 1, 10, 500, 1000
MAX_BARCODE = 10  # tgt's smc refuses a longer barcode ("invalid request")
MAX_TID = 1 << 20
_PATH = re.compile(r"/[A-Za-z0-9._+@:/-]*")  # what may sit in tgtadm's comma-separated --params
Argv = tuple[str, ...]


@dataclass(frozen=True)
class _Step:
    do: Argv
    undo: Argv | None = None
    what: str = ""


def validate_iqn(value: str) -> str:
    """An iSCSI name (the one rule, in apps.core.validators), refused as a BackendError."""
    try:
        return core_validators.validate_iqn(value)
    except ValidationError as exc:
        raise BackendError(exc.messages[0]) from exc


def validate_media_home(value: str) -> str:
    """An absolute, normalised directory path of letters, digits and . _ + @ : / - (no '..')."""
    if (not isinstance(value, str) or not _PATH.fullmatch(value) or len(value) > 200 or value.startswith("//")
            or posixpath.normpath(value) != value or ".." in value.split("/")):
        raise BackendError(f"media_home must be an absolute path of letters, digits and . _ + @ : / - "
                           f"without '..': {value!r}")
    return value


def changer_file(spec: LibrarySpec, media_home: str) -> str:
    """The changer LUN's backing store (tgt needs one; it holds nothing)."""
    return f"{media_home}/{spec.name}.smc"


def _tid(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value < MAX_TID:
        raise BackendError(f"not a target id (1-{MAX_TID - 1}): {value!r}")
    return value


def _initiator(value: str) -> str:
    if value != "ALL" and ip_network_or_none(value) is None:
        raise BackendError(f"not an initiator address or network (or ALL): {value!r}")
    return value


def _check(spec: LibrarySpec, tid: int, iqn: str, media_home: str, initiators: Iterable[str] = ()) -> None:
    validate_library_spec(spec)
    validate_iqn(iqn)
    validate_media_home(media_home)
    _tid(tid)
    for value in initiators:
        _initiator(value)
    if len(spec.vendor) > 8 or any(len(d.vendor) > 8 for d in spec.drives):
        raise Unsupported("a SCSI vendor is at most 8 characters")
    if len(spec.product) > 16 or any(len(d.product) > 16 for d in spec.drives):
        raise Unsupported("a SCSI product is at most 16 characters")
    for medium in spec.media:
        if len(medium.barcode) > MAX_BARCODE:
            raise Unsupported(f"tgt takes barcodes of up to {MAX_BARCODE} characters: {medium.barcode}")


def _ident(vendor: str, product: str, serial: str) -> str:
    params = [f"vendor_id={vendor}", f"product_id={product}"] + ([f"scsi_sn={serial}"] if serial else [])
    return ",".join([*params, "removable=1"])


class TgtLibraryBackend:
    name = "tgt"

    def __init__(self, runner: Runner, control_port: int = 0) -> None:
        self.runner = runner
        self.control_port = int(control_port or 0)

    def _tgtadm(self, *args: str) -> Argv:
        port = ("-C", str(self.control_port)) if self.control_port else ()
        return ("tgtadm", *port, "--lld", "iscsi", *args)

    def _lun(self, op: str, tid: int, lun: int, *args: str) -> Argv:
        return self._tgtadm("--op", op, "--mode", "logicalunit", "--tid", str(tid), "--lun", str(lun), *args)

    # ------------------------------------------------------------ planning
    def _steps(self, spec: LibrarySpec, tid: int, iqn: str, media_home: str,
               initiators: Sequence[str] = ()) -> list[_Step]:
        _check(spec, tid, iqn, media_home, initiators)
        steps = [_Step(("tgtimg", "--op", "new", "--device-type", "tape", "--barcode", m.barcode, "--size",
                        str(m.size_mb), "--type", m.kind, "--file", f"{media_home}/{m.barcode}",
                        "--thin-provisioning"), ("rm", "--", f"{media_home}/{m.barcode}"), f"medium {m.barcode}")
                 for m in spec.media]
        smc = changer_file(spec, media_home)
        steps.append(_Step(("truncate", "--size", "1024", smc), ("rm", "--", smc), "the changer's backing file"))
        steps.append(_Step(self._tgtadm("--op", "new", "--mode", "target", "--tid", str(tid), "-T", iqn),
                           self._tgtadm("--op", "delete", "--force", "--mode", "target", "--tid", str(tid)),
                           f"target {tid}"))
        return steps + self._lun_steps(spec, tid, media_home, initiators)

    def _lun_steps(self, spec: LibrarySpec, tid: int, media_home: str, initiators: Sequence[str]) -> list[_Step]:
        # Deleting the target takes its LUNs and ACL with it: these need no undo of their own.
        argv: list[Argv] = []
        for lun, drive in enumerate(spec.drives, start=1):
            argv += [self._lun("new", tid, lun, "--device-type", "tape", "--bstype", "ssc"),
                     self._lun("update", tid, lun, "--params", _ident(drive.vendor, drive.product, drive.serial))]
        changer, drives = len(spec.drives) + 1, len(spec.drives)

        def element(params: str) -> Argv:
            return self._lun("update", tid, changer, "--params", params)

        argv += [self._lun("new", tid, changer, "--device-type", "changer", "--bstype", "smc", "-b",
                           changer_file(spec, media_home)),
                 element(f"{_ident(spec.vendor, spec.product, spec.serial)},media_home={media_home}"),
                 element(f"element_type=1,start_address={PICKER},quantity=1"),
                 element(f"element_type=4,start_address={DRIVE_BASE},quantity={drives}"),
                 element(f"element_type=2,start_address={SLOT_BASE},quantity={spec.slots}")]
        if spec.ie_slots:
            argv.append(element(f"element_type=3,start_address={IE_BASE},quantity={spec.ie_slots}"))
        argv += [element(f"element_type=4,address={DRIVE_BASE + i},tid={tid},lun={i + 1}") for i in range(drives)]
        argv += [element(f"element_type=2,address={SLOT_BASE + m.slot - 1},barcode={m.barcode},sides=1")
                 for m in sorted(spec.media, key=lambda m: m.slot)]
        argv += [self._tgtadm("--op", "bind", "--mode", "target", "--tid", str(tid), "-I", a) for a in initiators]
        return [_Step(a) for a in argv]

    def plan(self, spec: LibrarySpec, tid: int, iqn: str, media_home: str,
             initiators: Sequence[str] = ("ALL",)) -> list[list[str]]:
        """The commands that build the library, in order (nothing runs)."""
        return [list(step.do) for step in self._steps(spec, tid, iqn, media_home, tuple(initiators))]

    # ------------------------------------------------------------ acting
    def create(self, spec: LibrarySpec, tid: int, iqn: str, media_home: str,
               initiators: Sequence[str] = ("ALL",)) -> int:
        """Build the library; on a failure what was done is undone in reverse order. Returns the commands run."""
        steps = self._steps(spec, tid, iqn, media_home, tuple(initiators))
        self._refuse_existing(spec, media_home)
        done: list[_Step] = []
        for step in steps:
            try:
                self.runner.run(step.do)
            except CommandError as exc:
                raise self._failed(step, exc, done) from exc
            done.append(step)
        return len(done)

    @staticmethod
    def _refuse_existing(spec: LibrarySpec, media_home: str) -> None:
        if not Path(media_home).is_dir():
            raise BackendError(f"media_home {media_home} is not a directory")
        taken = [p for p in [f"{media_home}/{m.barcode}" for m in spec.media] + [changer_file(spec, media_home)]
                 if Path(p).exists()]
        if taken:
            raise BackendError(f"these files exist and would be overwritten: {', '.join(taken)}; nothing was done")

    def _failed(self, step: _Step, exc: CommandError, done: list[_Step]) -> BackendError:
        why = (exc.stderr or exc.stdout).strip() or f"exit {exc.returncode}"
        failures = []
        for earlier in reversed(done):
            if earlier.undo is None:
                continue
            try:
                self.runner.run(earlier.undo)
            except CommandError as undo_exc:
                failures.append(f"`{shlex.join(earlier.undo)}`: {(undo_exc.stderr or undo_exc.stdout).strip()}")
        undone = [s.what for s in reversed(done) if s.undo is not None]
        if failures:
            note = "rolling back failed for " + "; ".join(failures) + ": check tgtadm --op show and media_home"
        elif undone:
            note = "rolled back in reverse order (" + ", ".join(undone) + " removed)"
        else:
            note = "nothing had been changed"
        return BackendError(f"building the library failed at `{shlex.join(step.do)}`: {why}; {note}.",
                            argv=step.do, returncode=exc.returncode, stderr="")

    def _run(self, argv: Argv) -> str:
        try:
            return self.runner.run(argv).stdout
        except CommandError as exc:
            why = (exc.stderr or exc.stdout).strip() or f"exit {exc.returncode}"
            raise BackendError.from_command(exc, f"`{shlex.join(argv)}` failed: {why}") from exc

    def targets(self) -> list[ShownTarget]:
        return parse_show_target(self._run(self._tgtadm("--op", "show", "--mode", "target")))

    def show(self) -> list[ShownLibrary]:
        """The tape libraries tgtd serves: changer, drives and the media loaded in them."""
        return libraries(self.targets())

    def delete(self, tid: int, *, media_home: str | None = None, barcodes: Iterable[str] = ()) -> None:
        """Remove library ``tid`` (target and LUNs); with ``media_home``, also its changer file and ``barcodes``."""
        _tid(tid)
        if media_home is not None:
            validate_media_home(media_home)
            barcodes = [validate_barcode(code) for code in barcodes]
        library = next((lib for lib in self.show() if lib.tid == tid), None)
        if library is None:
            raise BackendError(f"tgtd has no tape library with target id {tid}")
        files = []
        if media_home is not None:
            files = [f"{media_home}/{code}" for code in barcodes]
            if library.changer.path.startswith(f"{media_home}/") and library.changer.path.endswith(".smc"):
                files.append(library.changer.path)
        self._run(self._tgtadm("--op", "delete", "--force", "--mode", "target", "--tid", str(tid)))
        if files:
            self._run(("rm", "-f", "--", *files))

