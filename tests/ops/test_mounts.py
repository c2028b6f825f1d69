"""chatter.mounts and doctor's volume check, on mountinfo lines recorded in podman containers here
(rootful podman 4, runc, ext4 host) and on lines written in the kernel's documented format."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatter import mounts
from chatter.service.operator import OK, WARN, volume_check

ROOT_OVERLAY = (
    "79 52 0:40 / / rw,relatime - overlay overlay rw,lowerdir=/var/lib/containers/storage/overlay/l/54GWKQQFYR3QDFD6"
    "HJPIX44KWV,upperdir=/var/lib/containers/storage/overlay/e92ce8dcd1a227d918b1129a4f847cd321d2eff8838de24625fe739f"
    "48d4817c/diff,workdir=/var/lib/containers/storage/overlay/e92ce8dcd1a227d918b1129a4f847cd321d2eff8838de24625fe73"
    "9f48d4817c/work,uuid=on,fsync=volatile"
)
PROC = "80 79 0:43 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw"
ANON = "c0ace5ed0124c227d044752e43b25ae48b5a763d49e9724f3c882c749d84e651"
# `podman run -v /data ...` (and the image's VOLUME /data without -v): an anonymous volume.
ANONYMOUS_DATA = (
    f"83 79 254:0 /var/lib/containers/storage/volumes/{ANON}/_data /data rw,nosuid,nodev,relatime - ext4 /dev/vda "
    "rw,discard,resv_strict,resuid=65534,resgid=65534"
)
# `podman run -v chatter-data:/data ...`
NAMED_DATA = (
    "83 79 254:0 /var/lib/containers/storage/volumes/chatter-data/_data /data rw,nosuid,nodev,relatime - ext4 "
    "/dev/vda rw,discard,resv_strict,resuid=65534,resgid=65534"
)
# `podman run -v /srv/chat:/data ...` (a bind mount) and `... :ro`
BIND_DATA = "80 79 254:0 /srv/chat /data rw,relatime - ext4 /dev/vda rw,discard,resv_strict,resuid=65534,resgid=65534"
BIND_DATA_RO = "80 79 254:0 /srv/chat /data ro,relatime - ext4 /dev/vda rw,discard,resv_strict"
# docker's layout; optional fields before the separator; a mount point with a space (\040).
DOCKER_ANON = (
    f"612 590 8:1 /var/lib/docker/volumes/{ANON}/_data /data rw,relatime master:1 shared:7 - ext4 /dev/sda1 "
    "rw,errors=remount-ro"
)
SPACED = r"99 79 254:0 /srv/my\040chat /my\040data rw,relatime - ext4 /dev/vda rw"


def info(*lines: str) -> str:
    return "\n".join(lines) + "\n"


def test_parse_reads_the_fields_around_the_separator():
    parsed = mounts.parse_mountinfo(info(ROOT_OVERLAY, PROC, ANONYMOUS_DATA, DOCKER_ANON, SPACED, "garbage line", ""))
    assert [(m.mount_point, m.fstype) for m in parsed] == [
        ("/", "overlay"), ("/proc", "proc"), ("/data", "ext4"), ("/data", "ext4"), ("/my data", "ext4")]
    assert parsed[2].root == f"/var/lib/containers/storage/volumes/{ANON}/_data" and parsed[2].source == "/dev/vda"
    assert parsed[3].source == "/dev/sda1"  # optional fields (master:1 shared:7) skipped
    assert parsed[4].root == "/srv/my chat"


def test_mount_of_picks_the_longest_mount_point_and_the_last_of_equals():
    parsed = mounts.parse_mountinfo(info(ROOT_OVERLAY, PROC, NAMED_DATA, ANONYMOUS_DATA))
    assert mounts.mount_of("/data/chatter.db", parsed) == parsed[3]  # mounted over the named one
    assert mounts.mount_of("/data", parsed) == parsed[3]
    assert mounts.mount_of("/database", parsed) == parsed[0]  # a prefix of the string is not a parent
    assert mounts.mount_of("/proc/self", parsed) == parsed[1]


@pytest.mark.parametrize("line,name,anonymous", [
    (ANONYMOUS_DATA, ANON, True), (DOCKER_ANON, ANON, True), (NAMED_DATA, "chatter-data", False),
    (BIND_DATA, None, False), (ROOT_OVERLAY, None, False),
    # a named volume whose name merely looks like hex, but is not 64 characters
    (NAMED_DATA.replace("chatter-data", "c0ffee"), "c0ffee", False),
])
def test_volume_names(line, name, anonymous):
    (mount,) = mounts.parse_mountinfo(line)
    assert mounts.volume_name(mount) == name
    assert name is None or mounts.is_anonymous(name) is anonymous


def test_doctor_warns_on_an_anonymous_volume_only():
    db = Path("/data/chatter.db")
    anon = volume_check(db, info(ROOT_OVERLAY, PROC, ANONYMOUS_DATA), container=True)
    assert anon is not None and anon.level == WARN
    assert "/data is an anonymous volume (c0ace5ed0124...)" in anon.detail and "-v chatter-data:/data" in anon.detail
    named = volume_check(db, info(ROOT_OVERLAY, NAMED_DATA), container=True)
    assert named is not None and (named.level, named.detail) == (OK, "/data is the named volume chatter-data")
    assert volume_check(db, info(ROOT_OVERLAY, BIND_DATA), container=True) is None
    assert volume_check(db, info(ROOT_OVERLAY, BIND_DATA_RO), container=True) is None
    # No volume at all inside a container: the database would live in the container's own layer.
    layer = volume_check(db, info(ROOT_OVERLAY, PROC), container=True)
    assert layer is not None and layer.level == WARN and "container's own file system" in layer.detail
    # Outside a container an overlay root is just a root.
    assert volume_check(db, info(ROOT_OVERLAY, PROC), container=False) is None
    assert volume_check(db, "") is None


def test_mount_holding_resolves_to_an_existing_ancestor(tmp_path):
    parsed = mounts.mount_holding(tmp_path / "not" / "yet" / "chatter.db")
    assert parsed is not None and str(tmp_path.resolve()).startswith(parsed.mount_point)
