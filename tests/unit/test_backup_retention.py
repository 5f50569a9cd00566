"""The retention rule: dates in, the set of kept backups out (no files, no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sync_server.backups.retention import BackupStamp, keep, parse_name


def _name(at: datetime, counter: int = 1) -> str:
    suffix = f"-{counter}" if counter > 1 else ""
    return f"aipipe-backup-{at.strftime('%Y%m%dT%H%M%SZ')}{suffix}.zip"


def _stamps(*times: datetime) -> list[BackupStamp]:
    found = [parse_name(_name(t)) for t in times]
    assert all(found)
    return [s for s in found if s is not None]


def _at(day: int, hour: int = 3, month: int = 12) -> datetime:
    return datetime(2026, month, day, hour, 0, tzinfo=UTC)


def test_names_that_aipipe_does_not_make_are_not_parsed() -> None:
    assert parse_name("aipipe-backup-20261206T031500Z.zip") == BackupStamp(
        datetime(2026, 12, 6, 3, 15, tzinfo=UTC), 1, "aipipe-backup-20261206T031500Z.zip"
    )
    assert parse_name("aipipe-backup-20261206T031500Z-3.zip").counter == 3  # type: ignore[union-attr]
    for other in (
        "aipipe-backup-20261206T031500Z.zip.tmp",
        ".aipipe-backup-20261206T031500Z.zip.x.tmp",
        "my-aipipe-backup-20261206T031500Z.zip",
        "aipipe-backup-20261399T031500Z.zip",  # not a date
        "aipipe.before-restore-20261206T031500Z.pgdump",
        "backup.zip",
    ):
        assert parse_name(other) is None, other


def test_the_newest_backup_of_each_of_the_last_days_is_kept() -> None:
    times = [_at(day, hour) for day in range(1, 11) for hour in (3, 15)]  # two a day, 1..10 December
    kept = keep(_stamps(*times), keep_daily=3, keep_weekly=0)
    assert kept == {_name(_at(10, 15)), _name(_at(9, 15)), _name(_at(8, 15))}


def test_the_newest_backup_of_each_of_the_last_iso_weeks_is_kept() -> None:
    # 1 Dec 2026 is a Tuesday: ISO week 49 is 30 Nov..6 Dec, week 50 is 7..13 Dec.
    times = [_at(day) for day in range(1, 14)] + [_at(20, month=11), _at(25, month=11)]
    kept = keep(_stamps(*times), keep_daily=0, keep_weekly=3)
    assert kept == {_name(_at(13)), _name(_at(6)), _name(_at(25, month=11))}


def test_daily_and_weekly_are_a_union_and_gaps_do_not_count() -> None:
    # Backups stopped for two weeks: the last days that HAVE backups are kept, not empty calendar days.
    times = [_at(1), _at(2), _at(3), _at(4), _at(20), _at(21)]
    kept = keep(_stamps(*times), keep_daily=3, keep_weekly=2)
    # days: 21, 20, 4; weeks: 52 (21 Dec ->) and 51 (14..20 Dec -> 20); week 49's newest (4) by day
    assert kept == {_name(_at(21)), _name(_at(20)), _name(_at(4))}
    assert keep(_stamps(*times), keep_daily=1, keep_weekly=3) == {
        _name(_at(21)),
        _name(_at(20)),
        _name(_at(4)),
    }


def test_several_backups_within_one_second_keep_the_last_one() -> None:
    at = _at(5)
    stamps = [s for s in (parse_name(_name(at, n)) for n in (1, 2, 3)) if s is not None]
    assert keep(stamps, keep_daily=1, keep_weekly=0) == {_name(at, 3)}


def test_keeping_more_than_exists_keeps_everything_and_nothing_keeps_nothing() -> None:
    times = [_at(1) + timedelta(days=9 * i) for i in range(3)]
    assert keep(_stamps(*times), keep_daily=30, keep_weekly=30) == {_name(t) for t in times}
    assert keep(_stamps(*times), keep_daily=0, keep_weekly=0) == set()
    assert keep([], keep_daily=7, keep_weekly=4) == set()
    with pytest.raises(ValueError, match="negative"):
        keep(_stamps(*times), keep_daily=-1, keep_weekly=0)
