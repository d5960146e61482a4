"""The tape panel of the dashboard: libraries, drives that need cleaning, drives with TapeAlert flags set.
Found and imported by the system app."""

from __future__ import annotations

from apps.system.dashboard import Panel, register_panel

from .models import Drive, Library, Medium

__all__ = ["tape_panel"]


def tape_panel(request) -> dict | None:
    if not request.user.has_perm("tape.view_library"):
        return None
    libraries = Library.objects.restrict(request.user)
    count = libraries.count()
    if not count:
        return None
    drives = list(Drive.objects.restrict(request.user).filter(library__in=libraries).select_related("library"))
    return {"tape_libraries": count, "tape_drives": len(drives),
            "tape_media": Medium.objects.restrict(request.user).filter(library__in=libraries).count(),
            "tape_cleaning": [d for d in drives if d.needs_cleaning],
            "tape_alerts": [(d, ", ".join(a.get("name", "") for a in d.tapealerts if isinstance(a, dict)))
                            for d in drives if d.tapealerts]}


register_panel(Panel("tape", "admin/tape/panels/tape.html", tape_panel, order=50))
