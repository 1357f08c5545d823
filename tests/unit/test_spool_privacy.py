"""The agent's spool is private: its user's own folder, 0700/0600, only our own spools adopted, and
optionally encrypted at rest (AES-GCM) so planted or altered records are never sent."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

from agent_audit.core.errors import ConfigError
from agent_audit.producers.batching import Envelope
from agent_audit.producers.options import ClientOptions, default_spool_dir
from agent_audit.producers.spool import DiskSpool, adopt_orphans, private_dir
from agent_audit.producers.spool_cipher import SpoolCipher

KEY = bytes(range(32))
SECRET_LINE = b'{"session_id":"s-1","content":"jane.doe@example.com"}'


def _env(i: int) -> Envelope:
    return Envelope(i % 3, 3, f"session-key-{i}", SECRET_LINE, 1)


def _dead_spool(folder: Path, cipher: SpoolCipher | None = None) -> DiskSpool:
    spool = DiskSpool(folder, cipher=cipher)
    spool.append([_env(1)])
    spool.close(remove_if_empty=False)  # as a crash leaves it
    return spool


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_default_spool_is_in_the_users_own_state_folder(tmp_path: Path) -> None:
    """XDG_STATE_HOME (else ~/.local/state)/agent-audit/spool: never a shared folder like /tmp."""
    assert default_spool_dir({"XDG_STATE_HOME": str(tmp_path)}) == tmp_path / "agent-audit" / "spool"
    assert default_spool_dir({}) == Path.home() / ".local" / "state" / "agent-audit" / "spool"
    assert ClientOptions.from_env({"XDG_STATE_HOME": str(tmp_path)}).spool_dir == default_spool_dir(
        {"XDG_STATE_HOME": str(tmp_path)})


def test_spool_folders_are_0700_and_files_0600(tmp_path: Path) -> None:
    """Folders (the topic's and the process's) 0700, every file 0600, even with a lax umask."""
    old = os.umask(0)
    try:
        spool = DiskSpool(tmp_path / "topic" / "own")
        spool.append([_env(0)])
        spool.commit(spool.read(1)[0].position)
        spool.append([_env(1)])
    finally:
        os.umask(old)
    assert _mode(tmp_path / "topic") == 0o700 and _mode(spool.dir) == 0o700
    files = list(spool.dir.iterdir())
    assert {p.name for p in files} >= {"lock", "layout", "position"}
    assert all(_mode(p) == 0o600 for p in files)
    spool.close()


def test_a_planted_segment_is_never_adopted(tmp_path: Path) -> None:
    """A folder holding a valid-looking segment but not our layout file is left alone."""
    real = _dead_spool(tmp_path / "real")
    planted = tmp_path / "planted"
    planted.mkdir(mode=0o700)
    for seg in real.dir.glob("*.seg"):
        shutil.copy(seg, planted / seg.name)
    shutil.rmtree(real.dir)
    assert adopt_orphans(tmp_path, 1 << 20, "batch") == []


def test_folders_others_can_write_or_links_are_not_adopted(tmp_path: Path) -> None:
    """A spool folder writable by others, or a link to one, could hold anyone's records: skipped."""
    topic = tmp_path / "topic"
    _dead_spool(topic / "open")
    os.chmod(topic / "open", 0o777)  # noqa: S103 - the unsafe folder this test must refuse
    elsewhere = _dead_spool(tmp_path / "elsewhere")
    (topic / "link").symlink_to(elsewhere.dir, target_is_directory=True)
    assert adopt_orphans(topic, 1 << 20, "batch") == []


def test_a_linked_segment_inside_our_spool_is_not_read(tmp_path: Path) -> None:
    """A segment file that is a symbolic link (to a file someone else wrote) is not one of ours."""
    donor = _dead_spool(tmp_path / "donor")
    own = DiskSpool(tmp_path / "own")
    (own.dir / "000000000001.seg").symlink_to(next(donor.dir.glob("*.seg")))
    assert own.read(10) == []
    own.close()


def test_encrypted_records_round_trip_and_nothing_is_on_disk_in_the_clear(tmp_path: Path) -> None:
    """With a key, what is read back is what was written; no byte of the event or its session key is
    on disk as written."""
    spool = DiskSpool(tmp_path / "own", cipher=SpoolCipher(KEY))
    spool.append([_env(i) for i in range(5)])
    got = [r.envelope for r in spool.read(10)]
    assert [(e.key, e.value, e.partition, e.partitions) for e in got] == [
        (f"session-key-{i}", SECRET_LINE, i % 3, 3) for i in range(5)]
    on_disk = b"".join(p.read_bytes() for p in spool.dir.glob("*.seg"))
    assert b"jane.doe" not in on_disk and b"session-key" not in on_disk
    spool.close(remove_if_empty=False)


def test_an_encrypted_spool_is_adopted_only_with_its_key(tmp_path: Path) -> None:
    """A spool sealed under one key is adopted by a process with that key, not by a plain one nor by
    another key (left alone, not read as garbage)."""
    _dead_spool(tmp_path / "sealed", SpoolCipher(KEY))
    assert adopt_orphans(tmp_path, 1 << 20, "batch") == []
    assert adopt_orphans(tmp_path, 1 << 20, "batch", SpoolCipher(bytes(32))) == []
    adopted = adopt_orphans(tmp_path, 1 << 20, "batch", SpoolCipher(KEY))
    assert [r.envelope.value for r in adopted[0].read(10)] == [SECRET_LINE]


def test_planted_or_altered_records_in_an_encrypted_spool_are_never_sent(tmp_path: Path) -> None:
    """A plaintext segment planted in a sealed spool, or a sealed record with one byte changed, fails
    authentication: nothing of it is read."""
    cipher = SpoolCipher(KEY)
    plain = _dead_spool(tmp_path / "plain")
    sealed = _dead_spool(tmp_path / "sealed", cipher)
    seg = next(sealed.dir.glob("*.seg"))
    shutil.copy(next(plain.dir.glob("*.seg")), sealed.dir / "000000000099.seg")
    data = bytearray(seg.read_bytes())
    data[-1] ^= 1
    seg.write_bytes(bytes(data))
    reopened = DiskSpool(sealed.dir, cipher=cipher)
    assert reopened.read(10) == []
    reopened.close(remove_if_empty=False)


def test_private_dir_refuses_a_link(tmp_path: Path) -> None:
    """A spool path that is a symbolic link (e.g. planted in a shared folder) is refused."""
    (tmp_path / "target").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "target", target_is_directory=True)
    with pytest.raises(PermissionError):
        private_dir(tmp_path / "link")


def test_the_spool_key_is_parsed_checked_and_never_shown(tmp_path: Path) -> None:
    """AUDIT_SPOOL_KEY: hex or base64 of 32 bytes; a bad one is a ConfigError without the value;
    the key never appears in repr."""
    options = ClientOptions.from_env({"AUDIT_SPOOL_KEY": KEY.hex(), "AUDIT_SPOOL_DIR": str(tmp_path)})
    assert options.spool_key == KEY
    assert KEY.hex() not in repr(options) and "key_id" in repr(options.spool_cipher())
    with pytest.raises(ConfigError) as caught:
        ClientOptions.from_env({"AUDIT_SPOOL_KEY": "too-short-secret"})
    assert "too-short-secret" not in str(caught.value)
