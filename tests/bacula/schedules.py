"""Run lines for the schedule grammar's tests."""

from __future__ import annotations

# Run lines bacula-dir 9.6.7 accepts (its default configuration's among them) and refuses; the integration
# tests check both lists against bacula-dir -t itself.
GOOD_RUNS = [
    "Level=Full 1st sun at 23:05", "Level=Differential 2nd-5th sun at 23:05", "Level=Incremental mon-sat at 23:05",
    "Full sun at 2:00", "Level=Full Pool=TapePool Storage=VTL1 Messages=Standard Priority=5 monthly at 1:00",
    "Level = Incremental hourly at 0:15", "daily at 23:59", "weekly on mon at 0:00", "Level=Full sun at 1:00 at 2:00",
    "Level=Full jan 1 at 3:00", "Level=Full w01-w26 sun at 4:00", "Level=Full 1-15 at 12:00", "at 11:30pm",
    "Level=Full SpoolData=yes on 1st monday at 05:00", "Level=Full jan-jun first sun at 1:00", "monday-friday at 6:00",
]
BAD_RUNS = [
    "Level=Full sun at 25:99", "Level=Incremental mon-sat at 25:99", "Level=Incremental everyday at 23:05",
    "Level=Full sun at 23:60", "Level=Full 32 at 1:00", "Level=Full w54 at 1:00", "Level=Sometimes sun at 1:00",
    "Level=Full sun 23:05", "Nonsense=1 sun at 1:00", "Level=Full last fri at 22:00", "Level=Full sun-jan at 1:00",
    "", "Level=Full\nsun at 1:00", 'Level=Full "sun" at 1:00',
]
