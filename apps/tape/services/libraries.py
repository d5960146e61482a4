"""Tape libraries as desired-state resources, the generated mhVTL and tgt configuration, and the discovery of the
changers and drives of this host.

An mhVTL library is rendered into mhVTL's ``device.conf`` (every mhVTL library) and its own
``library_contents.<id>`` in ``CALYPSO_MHVTL_CONFIG_DIR``, each checked by parsing it back before it replaces
anything; new media are made with ``mktape`` and mhVTL is restarted (``CALYPSO_MHVTL_RESTART``). A failure puts
the previous files back. A tgt library is built with tgtadm (the backend undoes a half-built one) and removed
with its target; its media files stay. A physical library is found by Discover (``lsscsi -g``)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from apps.core.configfiles import install, service_argv
from apps.core.errors import BackendError, ServiceError
from apps.core.resources import ResourceService
from apps.core.runner import CommandError, Runner, get_runner

from ..backends import get_backend
from ..backends.base import DriveSpec, LibrarySpec, MediumSpec, validate_barcode
from ..backends.mhvtl import (
    mktape_argv,
    parse_device_conf,
    parse_library_contents,
    render_device_conf,
    render_library_contents,
)
from ..backends.tgt_vtl import MAX_BARCODE
from ..backends.types import ChangerDrive, ChangerSlot, ChangerStatus, ScsiDevice
from ..choices import LibraryKind, MediumKind, MediumState
from ..models import Drive, Library, Medium
from .inventory import record_inventory

__all__ = ["LIBRARIES", "LibraryService", "default_iqn", "discover", "mhvtl_files", "mhvtl_service", "preview",
           "restart_argv", "spec_of"]

IQN_PREFIX = "iqn.2026-12.org.calypso:tape"
MAX_TARGET = 255
STRUCTURE = ("kind", "vendor", "product", "serial", "slots", "ie_slots", "drive_count", "density", "media_size_mb",
             "mhvtl_id", "tid", "iqn", "media_home")


def default_iqn(name: str) -> str:
    return f"{IQN_PREFIX}.{name}"


def _default_home(library: Library) -> str:
    return f"{settings.CALYPSO_TAPE_MEDIA_DIR}/{library.name}"


def _media_of(library: Library) -> list[Medium]:
    return list(Medium.objects.filter(library=library, slot_number__isnull=False).order_by("slot_number"))


def spec_of(library: Library, media: Sequence[Medium] | None = None) -> LibrarySpec:
    """The backends' description of ``library`` and the media in its storage slots."""
    media = _media_of(library) if media is None else media
    return LibrarySpec(
        name=library.name, vendor=library.vendor or "STK", product=library.product or "L700", serial=library.serial,
        slots=library.slots, ie_slots=library.ie_slots, drives=tuple(DriveSpec() for _i in range(library.drive_count)),
        media=tuple(MediumSpec(m.barcode, m.slot_number, m.kind, library.density, library.media_size_mb)
                    for m in media if m.slot_number is not None and m.slot_number <= library.slots))


# ------------------------------------------------------------------ mhVTL
def _mhvtl_libraries(exclude: Library | None = None, extra: Library | None = None) -> list[Library]:
    rows = [lib for lib in Library.objects.filter(kind=LibraryKind.MHVTL).exclude(mhvtl_id=None)
            if exclude is None or lib.pk != exclude.pk]
    if extra is not None:
        rows = [lib for lib in rows if lib.pk != extra.pk] + [extra]
    return sorted(rows, key=lambda lib: lib.mhvtl_id)


def _first_targets(libraries: Sequence[Library]) -> dict[int, int]:
    """Each library's changer target on channel 0: one after the previous library's last drive."""
    targets, nxt = {}, 0
    for lib in libraries:
        targets[lib.mhvtl_id] = nxt
        nxt += lib.drive_count + 1
    return targets


def _device_conf(libraries: Sequence[Library], media: dict[int, Sequence[Medium]] | None = None) -> str:
    targets = _first_targets(libraries)
    head, parts = "", []
    for lib in libraries:
        text = render_device_conf(spec_of(lib, (media or {}).get(lib.pk)), lib.mhvtl_id,
                                  home=settings.CALYPSO_MHVTL_HOME, first_target=targets[lib.mhvtl_id])
        start = text.index("# Calypso library")
        head, body = text[:start], text[start:]
        parts.append(body)
    return (head or "\nVERSION: 5\n\n") + "\n".join(parts)


def _config_dir() -> Path:
    return Path(settings.CALYPSO_MHVTL_CONFIG_DIR)


def mhvtl_files(library: Library, media: Sequence[Medium] | None = None, *,
                exclude: Library | None = None) -> dict[str, str]:
    """Path -> text of the files ``library`` (an mhVTL library, saved or not) makes mhVTL read."""
    media_map = {library.pk: media} if media is not None else None
    libraries = _mhvtl_libraries(exclude=exclude, extra=library)
    contents = render_library_contents(spec_of(library, media))
    return {str(_config_dir() / "device.conf"): _device_conf(libraries, media_map),
            str(_config_dir() / f"library_contents.{library.mhvtl_id}"): contents}


def _parses(parse: Callable[[str], Any], check: Callable[[Any], None]) -> Callable[[Path], None]:
    def validate(candidate: Path) -> None:
        check(parse(candidate.read_text(encoding="utf-8")))
    return validate


def _lists(ids: set[int]) -> Callable[[Any], None]:
    def check(config) -> None:
        if {lib.id for lib in config.libraries} != ids:
            raise BackendError(f"device.conf lists libraries {sorted(lib.id for lib in config.libraries)}, "
                               f"not {sorted(ids)}")
    return check


def _run(runner: Runner, argv: Sequence[str]) -> str:
    try:
        return runner.run(list(argv)).stdout
    except CommandError as exc:
        raise BackendError.from_command(exc) from exc


def restart_argv() -> list[str]:
    """How mhVTL is restarted: ``CALYPSO_MHVTL_RESTART``, else its service (systemd's mhvtl.target, or init.d)."""
    return service_argv("restart", "mhvtl.target", configured=settings.CALYPSO_MHVTL_RESTART)


def _restart(runner: Runner) -> None:
    argv = restart_argv()
    if not argv:
        raise BackendError("mhVTL has no service to restart here (no systemd, no /etc/init.d/mhvtl): set "
                           "CALYPSO_MHVTL_RESTART")
    _run(runner, argv)


def mhvtl_service(library: Library, *, action: str, actor=None, runner: Runner | None = None) -> dict:
    """Start, stop or restart mhVTL (every virtual library it serves) through its service."""
    if library.kind != LibraryKind.MHVTL:
        raise ServiceError("unsupported", _("Only mhVTL libraries run as a service."))
    argv = restart_argv() if action == "restart" else service_argv(action, "mhvtl.target")
    if not argv:
        raise ServiceError("unsupported", _("mhVTL has no service here (no systemd, no /etc/init.d/mhvtl)."))
    _run(runner or get_runner(), argv)
    return {"action": action, "command": " ".join(argv)}


def _write_mhvtl(texts: dict[str, str | None], runner: Runner, new_media: Sequence[MediumSpec],
                 library_id: int | None) -> None:
    """Install the files (each parsed back first; None removes one), make the new media, restart mhVTL; any
    failure puts the previous files back."""
    if not _config_dir().is_dir():
        raise BackendError(f"mhVTL is not installed here: {_config_dir()} does not exist")
    previous = {p: Path(p).read_text(encoding="utf-8") if Path(p).exists() else None for p in texts}
    made: list[str] = []
    try:
        changed = [_install_one(Path(path), text) for path, text in texts.items()]
        for medium in new_media:
            _run(runner, mktape_argv(medium, library_id, str(_config_dir())))
            made.append(medium.barcode)
        if any(changed) or new_media:  # a description edited changes nothing mhVTL reads
            _restart(runner)
    except BackendError:
        for barcode in reversed(made):  # the media made here go first, newest first; then the files come back
            with contextlib.suppress(BackendError):
                _run(runner, ["rm", "-rf", "--", str(Path(settings.CALYPSO_MHVTL_HOME) / barcode)])
        for path, text in previous.items():
            if text is None:
                Path(path).unlink(missing_ok=True)
            else:
                Path(path).write_text(text, encoding="utf-8")
        raise


def _install_one(path: Path, text: str | None) -> bool:
    if text is None:
        existed = path.exists()
        path.unlink(missing_ok=True)
        return existed
    if path.name == "device.conf":
        ids = {int(m) for m in re.findall(r"^Library: (\d+) ", text, re.MULTILINE)}
        return install(path, text, validate=_parses(parse_device_conf, _lists(ids))).changed
    return install(path, text, validate=_parses(parse_library_contents, lambda parsed: None)).changed


def _overlap(first_id: int, drives: int, other: Library) -> bool:
    """Whether ids ``first_id`` to ``first_id + drives`` (a library and its drives) meet ``other``'s."""
    return not (first_id + drives < other.mhvtl_id or first_id > other.mhvtl_id + other.drive_count)


# ------------------------------------------------------------------ the resource
class LibraryService(ResourceService[Library]):
    """Create, change and delete tape libraries; a virtual one is built on (or removed from) the host at once."""

    model = Library
    fields = ("name", "kind", "description", "vendor", "product", "serial", "changer", "slots", "ie_slots",
              "drive_count", "density", "media_size_mb", "mhvtl_id", "tid", "iqn", "media_home")
    lock = "tape"

    def create(self, *, actor=None, media: Sequence[str] = (), **fields: Any) -> Library:
        """Create the library from ``fields``; ``media``: barcodes put in storage slots 1, 2... of a virtual one."""
        plain, related = self._split(fields)
        obj = self.model(**plain)
        obj._new_media = list(media or ())
        with self._locked():
            return self._save(obj, set(fields), related)

    def prepare(self, obj: Library, changed: set[str]) -> None:
        if obj.kind == LibraryKind.TGT:
            obj.iqn = obj.iqn or (default_iqn(obj.name) if obj.name else "")
            obj.media_home = obj.media_home or (_default_home(obj) if obj.name else "")
        if obj.kind == LibraryKind.MHVTL and obj.mhvtl_id is None and obj.drive_count:
            obj.mhvtl_id = self._free_mhvtl_id(obj)

    @staticmethod
    def _free_mhvtl_id(obj: Library) -> int | None:
        others = _mhvtl_libraries(exclude=obj)
        return next((n for n in range(10, 9990, 10)
                     if not any(_overlap(n, obj.drive_count, lib) for lib in others)), None)

    def check(self, obj: Library) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        if obj.pk is not None:
            errors.update(self._check_change(obj))
        if obj.kind == LibraryKind.PHYSICAL and not obj.changer:
            errors["changer"] = [_("A physical library is driven through its changer: give /dev/sgN (or run "
                                   "Discover).")]
        if obj.kind == LibraryKind.TGT and obj.changer:
            errors["changer"] = [_("A tgt library has no changer on this host: its initiator sees it.")]
        if obj.kind == LibraryKind.MHVTL:
            errors.update(self._check_mhvtl(obj))
        media = getattr(obj, "_new_media", None)
        if media:
            errors.update(self._check_media(obj, media))
        return errors

    @staticmethod
    def _check_change(obj: Library) -> dict[str, list[str]]:
        before = Library.objects.filter(pk=obj.pk).values(*STRUCTURE).first() or {}
        errors = {}
        if before.get("kind", obj.kind) != obj.kind:
            errors["kind"] = [_("A library's kind cannot change: delete it and create another.")]
        if obj.kind == LibraryKind.TGT:
            for name in STRUCTURE:
                if name != "kind" and before.get(name) != getattr(obj, name):
                    errors[name] = [_("A tgt library is served as it was built: delete it and create it again "
                                      "to change this.")]
        return errors

    @staticmethod
    def _check_mhvtl(obj: Library) -> dict[str, list[str]]:
        if obj.mhvtl_id is None:
            return {"mhvtl_id": [_("No mhVTL id is free for this many drives: give one.")]}
        for other in _mhvtl_libraries(exclude=obj):
            if _overlap(obj.mhvtl_id, obj.drive_count, other):
                return {"mhvtl_id": [_("Ids %(a)s-%(b)s are taken by library %(o)s and its drives.") % {
                    "a": other.mhvtl_id, "b": other.mhvtl_id + other.drive_count, "o": other.name}]}
        if obj.mhvtl_id + obj.drive_count > 9999:
            return {"mhvtl_id": [_("The library's drives take the ids after it: at most 9999.")]}
        if sum(lib.drive_count + 1 for lib in _mhvtl_libraries(extra=obj)) > MAX_TARGET + 1:
            return {"drive_count": [_("mhVTL's channel holds 256 devices: too many drives.")]}
        return {}

    @staticmethod
    def _check_media(obj: Library, media: Sequence[str]) -> dict[str, list[str]]:
        if obj.kind == LibraryKind.PHYSICAL:
            return {"media": [_("A physical library's media are found by its inventory.")]}
        problems = []
        for code in media:
            try:
                validate_barcode(code)
            except BackendError as exc:
                problems.append(str(exc))
            if obj.kind == LibraryKind.TGT and len(code) > MAX_BARCODE:
                problems.append(_("tgt takes barcodes of up to %(n)s characters: %(c)s") % {"n": MAX_BARCODE,
                                                                                          "c": code})
        if len(set(media)) != len(media):
            problems.append(_("Each barcode only once."))
        if len(media) > obj.slots:
            problems.append(_("%(n)s media do not fit in %(s)s slots.") % {"n": len(media), "s": obj.slots})
        taken = sorted(Medium.objects.filter(barcode__in=list(media)).values_list("barcode", flat=True))
        if taken:
            problems.append(_("Already known: %(c)s.") % {"c": ", ".join(taken)})
        return {"media": problems} if problems else {}

    # -------------------------------------------------------------- host
    def apply(self, obj: Library) -> None:
        creating = hasattr(obj, "_new_media")
        codes = list(getattr(obj, "_new_media", None) or ())
        if creating:
            del obj._new_media
            self._first_inventory(obj, codes)
        if obj.kind == LibraryKind.MHVTL:
            new = [m for m in spec_of(obj).media if m.barcode in codes]
            _write_mhvtl(mhvtl_files(obj), get_runner(), new, obj.mhvtl_id)
        elif obj.kind == LibraryKind.TGT and creating:
            self._build_tgt(obj)

    @staticmethod
    def _first_inventory(obj: Library, codes: Sequence[str]) -> None:
        """A virtual library starts with its media in slots 1, 2... and its drives empty."""
        if obj.kind == LibraryKind.PHYSICAL:
            return
        for i, code in enumerate(codes, start=1):
            Medium.objects.create(barcode=code, kind=MediumKind.CLEAN if code.startswith("CLN") else MediumKind.DATA,
                                  state=MediumState.BLANK, library=obj, slot_number=i)
        codes_at = dict(enumerate(codes, start=1))
        status = ChangerStatus(obj.changer, obj.drive_count, obj.total_slots, obj.ie_slots,
                               drives=tuple(ChangerDrive(n, False) for n in range(obj.drive_count)),
                               slots=tuple(ChangerSlot(n, n in codes_at, codes_at.get(n, ""), n > obj.slots)
                                           for n in range(1, obj.total_slots + 1)))
        record_inventory(obj, status, scanned=False)

    @staticmethod
    def _build_tgt(obj: Library) -> None:
        backend = get_backend(obj)
        if obj.tid is None:
            used = {t.tid for t in backend.targets()} | set(Library.objects.exclude(tid=None).values_list("tid",
                                                                                                          flat=True))
            obj.tid = next(n for n in range(1, 1 << 20) if n not in used)
            Library.objects.filter(pk=obj.pk).update(tid=obj.tid)
        if obj.media_home == _default_home(obj):  # Calypso's own directory; one the operator named must exist
            Path(obj.media_home).mkdir(mode=0o750, parents=True, exist_ok=True)
        backend.create(spec_of(obj), obj.tid, obj.iqn, obj.media_home)

    def retire(self, obj: Library) -> None:
        if obj.kind == LibraryKind.MHVTL and obj.mhvtl_id is not None:
            libraries = _mhvtl_libraries(exclude=obj)
            _write_mhvtl({str(_config_dir() / "device.conf"): _device_conf(libraries) if libraries else None,
                          str(_config_dir() / f"library_contents.{obj.mhvtl_id}"): None}, get_runner(), (),
                         obj.mhvtl_id)
        elif obj.kind == LibraryKind.TGT and obj.tid is not None:
            try:
                get_backend(obj).delete(obj.tid)
            except BackendError as exc:
                if "has no tape library" not in str(exc):
                    raise


LIBRARIES = LibraryService()


# ------------------------------------------------------------------ preview
def _preview_one(library: Library) -> dict:
    if library.kind == LibraryKind.MHVTL:
        files = mhvtl_files(library)
        commands = [mktape_argv(m, library.mhvtl_id, str(_config_dir())) for m in spec_of(library).media]
        commands.append(restart_argv())
    elif library.kind == LibraryKind.TGT:
        files = {}
        commands = get_backend(library).plan(spec_of(library), library.tid or 1, library.iqn or default_iqn(
            library.name), library.media_home or _default_home(library))
    else:
        files, commands = {}, []
    return {"library": library.name, "kind": library.kind,
            "files": [{"path": p, "text": t} for p, t in files.items()], "commands": commands}


def preview(obj=None, *, actor=None, library: Library | None = None) -> dict:
    """What the virtual libraries make the host read and run: mhVTL's device.conf and library_contents with the
    mktape commands, and the tgtadm commands of a tgt library; of ``library``, or of every virtual library."""
    rows = [library] if library is not None else list(Library.objects.exclude(kind=LibraryKind.PHYSICAL))
    try:
        return {"libraries": [_preview_one(lib) for lib in rows]}
    except BackendError as exc:
        raise ServiceError("unsupported", exc.message) from exc


# ------------------------------------------------------------------ discovery
def _groups(devices: Sequence[ScsiDevice]) -> list[tuple[ScsiDevice, list[ScsiDevice]]]:
    """Each changer with the drives on its host and channel, between it and the next changer's target."""
    changers = sorted((d for d in devices if d.type == "mediumx"), key=lambda d: (d.host, d.channel, d.target))
    drives = sorted((d for d in devices if d.type == "tape"), key=lambda d: (d.host, d.channel, d.target, d.lun))
    out = []
    for i, changer in enumerate(changers):
        after = changers[i + 1] if i + 1 < len(changers) else None
        mine = [d for d in drives if (d.host, d.channel) == (changer.host, changer.channel)
                and (after is None or (after.host, after.channel) != (d.host, d.channel) or d.target < after.target)
                and d.target >= changer.target]
        out.append((changer, mine))
    return out


def _library_for(changer: ScsiDevice) -> Library | None:
    found = Library.objects.filter(changer=changer.sg).first() if changer.sg else None
    if found is not None:
        return found
    targets = _first_targets(_mhvtl_libraries())
    return next((lib for lib in _mhvtl_libraries() if not lib.changer and changer.channel == 0
                 and targets[lib.mhvtl_id] == changer.target), None)


def _discovered_name(changer: ScsiDevice) -> str:
    base = re.sub(r"[^a-z0-9-]+", "-", f"changer-{changer.sg.rsplit('/', 1)[-1]}".lower()).strip("-")[:32]
    name, n = base, 1
    while Library.objects.filter(name=name).exists():
        n += 1
        name = f"{base[:28]}-{n}"
    return name


@transaction.atomic
def _adopt(changer: ScsiDevice, drives: Sequence[ScsiDevice]) -> Library:
    library = _library_for(changer)
    if library is None:
        library = Library(name=_discovered_name(changer), kind=LibraryKind.PHYSICAL, vendor=changer.vendor[:32],
                          product=changer.model[:32], changer=changer.sg, drive_count=max(len(drives), 1))
        try:
            library.full_clean()
        except ValidationError:
            library.vendor = library.product = ""
        library.save()
    else:
        Library.objects.filter(pk=library.pk).update(changer=changer.sg, present=True)
        if library.kind == LibraryKind.MHVTL:  # its own drives only: the targets after it are its drive_count
            drives = drives[:library.drive_count]
    for number, dev in enumerate(drives):
        Drive.objects.update_or_create(library=library, number=number, defaults={
            "vendor": dev.vendor[:32], "product": dev.model[:32], "device": dev.nst or "", "sg_device": dev.sg or ""})
    return library


def discover(*, actor=None, runner: Runner | None = None) -> dict:
    """The changers and drives ``lsscsi -g`` lists: a library for each changer not yet known (an mhVTL library
    gets its device nodes), and its drives."""
    devices = get_backend("physical", runner).devices()
    usable = [(c, d) for c, d in _groups(devices) if c.sg]
    libraries = [_adopt(changer, drives) for changer, drives in usable]
    return {"libraries": [lib.name for lib in libraries],
            "changers": [c.sg for c, _d in usable],
            "drives": [d.nst for _c, drives in usable for d in drives if d.nst]}
