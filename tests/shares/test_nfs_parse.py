"""The NFS formats: ``exportfs -v`` as nfs-utils prints it (recorded), and the exports file and Ganesha EXPORT
blocks Calypso renders, read back by the same parsers that check every candidate file."""

from __future__ import annotations

import pytest

from apps.core.errors import BackendError, ParseError
from apps.shares.backends.base import NfsClientSpec, NfsExportSpec
from apps.shares.backends.nfs import render_exports, render_ganesha_exports
from apps.shares.backends.nfs_parse import (
    parse_exportfs_v,
    parse_exports,
    parse_ganesha_config,
    parse_ganesha_exports,
)

from .recordings import recorded_text

TEAM = NfsExportSpec(export_id=7, path="/tank/team data", description="Team files", clients=(
    NfsClientSpec(host="10.0.0.0/24", access="rw", sync=True, squash="root_squash"),
    NfsClientSpec(host="*.example.com", access="ro", sync=False, squash="all_squash", anonuid=1000, anongid=100,
                  sec=("krb5", "krb5i", "krb5p")),
    NfsClientSpec(host="@trusted", access="rw", squash="no_root_squash"),
    NfsClientSpec(host="2001:db8::/64", access="ro"),
))
OFF = NfsExportSpec(export_id=9, path="/tank/old", enabled=False, clients=(NfsClientSpec(host="10.0.0.9"),))


def test_exportfs_v_with_short_paths():
    exported = parse_exportfs_v(recorded_text("nfs/exportfs_v.txt"))
    assert [(e.path, e.host) for e in exported] == [
        ("/srv/a", "127.0.0.1"), ("/srv/projects", "10.0.0.0/24"), ("/srv/projects", "*.example.com"),
        ("/srv/my data", "@trusted")]
    a, projects, wild, trusted = exported
    assert (a.access, a.sync, a.squash, a.sec) == ("rw", True, "root_squash", ("sys",))
    assert (projects.sync, projects.squash, projects.sec) == (False, "no_root_squash", ("sys", "krb5"))
    assert (wild.access, wild.squash, wild.anonuid, wild.anongid, wild.sec) == ("ro", "all_squash", 1000, 100,
                                                                                 ("krb5p",))
    assert "wdelay" in trusted.options and trusted.anonuid is None


def test_exportfs_v_with_long_paths_on_two_lines():
    exported = parse_exportfs_v(recorded_text("nfs/exportfs_v_long_paths.txt"))
    assert [(e.path, e.host) for e in exported] == [
        ("/srv/calypso-pools/tank/projects", "10.0.0.0/24"), ("/srv/calypso-pools/tank/team data", "2001:db8::/64"),
        ("/srv/calypso-pools/tank/team data", "*.example.com"), ("/srv/calypso-pools/tank/team data", "@trusted")]
    # the host name that did not resolve (see exportfs_ra_unresolved_host.txt) is not exported
    assert "backup.example.com" not in {e.host for e in exported}
    assert parse_exportfs_v(recorded_text("nfs/exportfs_v_empty.txt")) == ()


@pytest.mark.parametrize("text", ["\t\t10.0.0.1(rw)\n", "/srv/a\n", "/srv/a        \t10.0.0.1 rw\n",
                                  "/srv/a\t10.0.0.1(rw,sec=rot13)\n"])
def test_unreadable_exportfs_output_names_the_command_and_line(text):
    with pytest.raises(ParseError, match="exportfs -v"):
        parse_exportfs_v(text)


def test_the_exports_file_quotes_paths_with_spaces_and_reads_back():
    text = render_exports([TEAM, OFF])
    assert text.splitlines()[2:] == [
        "# Team files",
        '"/tank/team data" 10.0.0.0/24(rw,sync,root_squash,sec=sys,no_subtree_check) '
        "*.example.com(ro,async,all_squash,anonuid=1000,anongid=100,sec=krb5:krb5i:krb5p,no_subtree_check) "
        "@trusted(rw,sync,no_root_squash,sec=sys,no_subtree_check) "
        "2001:db8::/64(ro,sync,root_squash,sec=sys,no_subtree_check)",
        "# disabled: /tank/old 10.0.0.9(ro,sync,root_squash,sec=sys,no_subtree_check)"]
    back = parse_exports(text)
    assert [(c.path, c.host, c.access, c.sync, c.squash, c.anonuid, c.anongid, c.sec) for c in back] == [
        (TEAM.path, c.host, c.access, c.sync, c.squash, c.anonuid, c.anongid, c.sec) for c in TEAM.clients]


@pytest.mark.parametrize("line", [
    "/tank/a 10.0.0.1(rw,no_auth_nlm)",  # an option Calypso does not write
    "/tank/a 10.0.0.1(rw,ro)",
    "/tank/a 10.0.0.1(rw,anonuid=-1)",
    '"/tank/a 10.0.0.1(rw)',
    "/tank/a",
    "tank/a 10.0.0.1(rw)",
])
def test_the_candidate_check_refuses_lines_calypso_does_not_write(line):
    with pytest.raises(ParseError, match="exports file"):
        parse_exports(line + "\n")


@pytest.mark.parametrize("spec", [
    NfsExportSpec(export_id=1, path='/tank/"quoted"', clients=(NfsClientSpec(host="10.0.0.1"),)),
    NfsExportSpec(export_id=1, path="/tank/a\nb", clients=(NfsClientSpec(host="10.0.0.1"),)),
    NfsExportSpec(export_id=1, path="/tank/a", clients=(NfsClientSpec(host="10.0.0.1(rw) *"),)),
    NfsExportSpec(export_id=1, path="/tank/a", clients=(NfsClientSpec(host="a;b"),)),
])
def test_renderers_refuse_what_their_format_cannot_carry(spec):
    with pytest.raises(BackendError):
        render_exports([spec])
    with pytest.raises(BackendError):
        render_ganesha_exports([spec])


def test_ganesha_blocks_read_back():
    text = render_ganesha_exports([TEAM, OFF])
    assert "# disabled: /tank/old (Export_Id 9)" in text
    blocks = parse_ganesha_config(text)["EXPORT"]
    assert len(blocks) == 1
    block = blocks[0]
    assert {k: block[k] for k in ("Export_Id", "Path", "Pseudo", "Access_Type", "Squash", "Protocols", "Transports")} \
        == {"Export_Id": "7", "Path": "/tank/team data", "Pseudo": "/tank/team data", "Access_Type": "None",
            "Squash": "root_squash", "Protocols": "4", "Transports": "TCP"}
    assert block["SecType"] == ["sys", "krb5", "krb5i", "krb5p"] and block["FSAL"] == [{"Name": "VFS"}]
    assert [c["Clients"] for c in block["CLIENT"]] == ["10.0.0.0/24", "*.example.com", "@trusted", "2001:db8::/64"]
    assert block["CLIENT"][1] == {"Clients": "*.example.com", "Access_Type": "RO", "Squash": "all_squash",
                                  "SecType": ["krb5", "krb5i", "krb5p"], "Anonymous_Uid": "1000",
                                  "Anonymous_Gid": "100"}
    clients = parse_ganesha_exports(text)
    assert [(c.host, c.access, c.squash) for c in clients] == [
        ("10.0.0.0/24", "rw", "root_squash"), ("*.example.com", "ro", "all_squash"), ("@trusted", "rw", "no_root_squash"),
        ("2001:db8::/64", "ro", "root_squash")]


def test_ganesha_export_ids_must_fit_sixteen_bits():
    with pytest.raises(BackendError, match="65536"):
        render_ganesha_exports([NfsExportSpec(export_id=65536, path="/tank/a", clients=(NfsClientSpec("h"),))])


@pytest.mark.parametrize("text", ["EXPORT { Path = /a;", "EXPORT { Path = ; }", "EXPORT { Path /a; }", "}",
                                  "EXPORT { Path = /a; Path = /b; }"])
def test_broken_ganesha_text_is_a_parse_error(text):
    with pytest.raises(ParseError, match="ganesha.conf"):
        parse_ganesha_config(text)


def test_ganesha_main_configuration_blocks_and_includes():
    parsed = parse_ganesha_config('NFS_CORE_PARAM { Protocols = 4; Enable_UDP = false; }\n'
                                  '%include "/etc/calypso/integrations/ganesha/exports.conf"\n# a comment\n')
    assert parsed == {"NFS_CORE_PARAM": [{"Protocols": "4", "Enable_UDP": "false"}]}


def test_the_ganesha_candidate_check_finds_missing_parts_and_twins(tmp_path):
    from pathlib import Path

    from apps.core.errors import BackendError
    from apps.core.runner import ReplayRunner
    from apps.shares.backends.base import NfsClientSpec, NfsExportSpec
    from apps.shares.backends.nfs import GaneshaBackend, render_ganesha_exports

    backend = GaneshaBackend(ReplayRunner(), tmp_path / "ganesha.conf", tmp_path / "exports.conf", tmp_path / "pid")
    client = NfsClientSpec(host="10.0.0.0/8", access="rw", sync=True, squash="root_squash", anonuid=None,
                           anongid=None, sec=("sys",))
    good = render_ganesha_exports([NfsExportSpec(export_id=i, path=f"/tank/e{i}", clients=(client,), enabled=True,
                                                 description="") for i in (1, 2)])
    candidate = Path(tmp_path / "candidate")
    candidate.write_text(good)
    backend.validate(candidate)  # accepted
    candidate.write_text(good.replace("Export_Id = 2;", "Export_Id = 1;"))
    with pytest.raises(BackendError, match="used twice"):
        backend.validate(candidate)
    candidate.write_text(good.replace("\tPseudo = \"/tank/e2\";\n", ""))
    with pytest.raises(BackendError, match="lacks Pseudo"):
        backend.validate(candidate)
    candidate.write_text(good.replace("\t\tClients = 10.0.0.0/8;\n", ""))
    with pytest.raises(BackendError, match="lacks Clients"):
        backend.validate(candidate)
