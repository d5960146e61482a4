import pytest
from django.core.exceptions import ValidationError

from apps.core.validators import (
    format_size,
    parse_size,
    validate_btrfs_subvolume_name,
    validate_host_path,
    validate_snapshot_name,
    validate_zfs_dataset_name,
    validate_zfs_pool_name,
)


@pytest.mark.parametrize("name", ["tank", "backup-01", "t.a_n:k"])
def test_valid_pool_names(name):
    assert validate_zfs_pool_name(name) == name


@pytest.mark.parametrize("name", ["", "1tank", "ta nk", "tank;rm -rf /", "-f", "mirror", "raidz2", "log", "c0d0",
                                  "tank/x", "a" * 300, "tank$(id)"])
def test_invalid_pool_names(name):
    with pytest.raises(ValidationError):
        validate_zfs_pool_name(name)


@pytest.mark.parametrize("name", ["tank/home", "tank/a/b-c.d:e_f"])
def test_valid_dataset_names(name):
    assert validate_zfs_dataset_name(name) == name


@pytest.mark.parametrize("name", ["tank/", "tank//x", "tank/a b", "tank/../x", "tank/x@snap", "tank/-x", "tank/x;y"])
def test_invalid_dataset_names(name):
    with pytest.raises(ValidationError):
        validate_zfs_dataset_name(name)


def test_snapshot_names():
    assert validate_snapshot_name("tank/home@daily-2026-11-24_0000")
    assert validate_snapshot_name("hourly.1")
    for bad in ("tank/home@", "tank/home@a b", "tank@x@y", "-x"):
        with pytest.raises(ValidationError):
            validate_snapshot_name(bad)


def test_btrfs_subvolume_names():
    assert validate_btrfs_subvolume_name("data/home")
    for bad in ("../etc", "a/../b", "-rf", "a b", ""):
        with pytest.raises(ValidationError):
            validate_btrfs_subvolume_name(bad)


def test_host_paths():
    assert validate_host_path("/srv/calypso/a.img")
    for bad in ("relative", "/srv/../etc", "/srv/\nx"):
        with pytest.raises(ValidationError):
            validate_host_path(bad)


@pytest.mark.parametrize(("text", "expected"), [("10G", 10 * 1024**3), ("1.5T", int(1.5 * 1024**4)),
                                                 ("512M", 512 * 1024**2), ("4096", 4096), ("10GiB", 10 * 1024**3),
                                                 ("2k", 2048), (1234, 1234)])
def test_parse_size(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("bad", ["ten", "-1G", "1.5.3G", "10X", "", True, -5])
def test_parse_size_rejects(bad):
    with pytest.raises(ValidationError):
        parse_size(bad)


def test_format_size():
    assert format_size(1536 * 1024**2) == "1.5G"
    assert format_size(512) == "512B"


@pytest.mark.parametrize("validator, good", [
    (validate_zfs_pool_name, "tank"),
    (validate_zfs_dataset_name, "tank/home"),
    (validate_snapshot_name, "tank/home@daily"),
    (validate_btrfs_subvolume_name, "data/home"),
])
@pytest.mark.parametrize("tail", ["\n", "\r\n", "\nrm"])
def test_a_trailing_newline_is_refused(validator, good, tail):
    """Validators match the whole string: ``$`` would let a name ending in a newline through."""
    assert validator(good) == good
    with pytest.raises(ValidationError):
        validator(good + tail)


def test_other_validators_match_the_whole_string():
    from apps.core.validators import validate_hostname, validate_property_name, validate_safe_name

    for validator, good in ((validate_safe_name, "ops1"), (validate_hostname, "nas.example.com"),
                            (validate_property_name, "com.example:owner"), (validate_property_name, "quota")):
        assert validator(good) == good
        with pytest.raises(ValidationError):
            validator(good + "\n")
