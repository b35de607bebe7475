"""Model versions, the CURRENT pointer, hot swap and the retrain lock (recommender.retrain.registry)."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from recommender.errors import ModelCompatibilityError, NoModelError, RetrainInProgress
from recommender.retrain.hot_swap import ModelWatcher, ServedModel
from recommender.retrain.lock import retrain_lock
from recommender.retrain.registry import ModelRegistry, new_version_name, validate_version

ARTIFACT = "artifact.json"


def writer(payload: dict) -> Callable[[Path], None]:
    """A ``write`` callback that stores ``payload`` as the artifact."""

    def write(directory: Path) -> None:
        (directory / ARTIFACT).write_text(json.dumps(payload), encoding="utf-8")

    return write


def load_artifact(directory: Path) -> dict:
    """A loader in the style of persistence.load_model: corrupt input -> ModelCompatibilityError."""
    try:
        return json.loads((directory / ARTIFACT).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelCompatibilityError(f"cannot read {directory / ARTIFACT}: {exc}") from exc


@pytest.fixture
def registry(tmp_path: Path) -> ModelRegistry:
    return ModelRegistry(tmp_path / "models")


def publish(registry: ModelRegistry, name: str, **kwargs) -> str:
    return registry.publish(writer({"name": name}), {"n_rows": 10}, **kwargs)


def start(script: str, *args: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", script, *map(str, args)])


def wait_for(marker: Path, process: subprocess.Popen, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not marker.exists():
        assert process.poll() is None, f"helper process exited early with {process.returncode}"
        assert time.monotonic() < deadline, "helper process did not get ready in time"
        time.sleep(0.02)


def kill(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


# --- version names --------------------------------------------------------------------------


def test_new_version_names_are_valid_and_sort_by_time() -> None:
    """Fresh version names pass validation and sort chronologically."""
    from datetime import UTC, datetime

    early = new_version_name(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    late = new_version_name(datetime(2026, 11, 28, 12, 5, 1, tzinfo=UTC))
    assert validate_version(early) == early
    assert early.startswith("20260102T030405Z-")
    assert early < late


@pytest.mark.parametrize(
    "name",
    ["../x", "/etc/passwd", "CURRENT", "20261128T120501Z-ab12/../..", "", "20261128T120501Z-AB12", ".tmp-20261128T120501Z-ab12", "２０２６1128T120501Z-ab12"],
    ids=["parent", "absolute", "pointer", "traversal-suffix", "empty", "uppercase", "tmp", "fullwidth-digits"],
)
def test_version_name_validation_rejects(registry: ModelRegistry, name: str) -> None:
    """Anything that is not a version name is refused before touching the disk."""
    with pytest.raises(ValueError, match="不是模型版本名"):
        registry.path_of(name)
    with pytest.raises(ValueError):
        registry.show(name)
    with pytest.raises(ValueError):
        registry.set_current(name)


# --- publish, list, show --------------------------------------------------------------------


def test_publish_makes_version_current(registry: ModelRegistry) -> None:
    """A published version becomes current and holds the artifact and version.json."""
    assert registry.current_version() is None
    version = publish(registry, "a")
    assert registry.current_version() == version
    assert (registry.models_dir / "CURRENT").read_text().strip() == version
    assert load_artifact(registry.path_of(version)) == {"name": "a"}
    record = json.loads((registry.path_of(version) / "version.json").read_text())
    assert record["version"] == version and record["parent"] is None and record["n_rows"] == 10


def test_publish_records_parent_and_numpy_metadata(registry: ModelRegistry) -> None:
    """version.json records the previous current version as parent; numpy figures serialize."""
    first = publish(registry, "a")
    second = registry.publish(writer({"name": "b"}), {"quality": {"coherence": np.float64(0.5)}, "sizes": np.arange(3)})
    info = registry.show(second)
    assert info.parent == first
    assert info.metadata["quality"] == {"coherence": 0.5}
    assert info.metadata["sizes"] == [0, 1, 2]
    assert info.is_current and info.error is None


def test_publish_without_make_current_keeps_pointer(registry: ModelRegistry) -> None:
    """make_current=False stores the version but leaves CURRENT alone."""
    first = publish(registry, "a")
    second = publish(registry, "b", make_current=False)
    assert registry.current_version() == first
    assert registry.show(second).is_current is False


def test_publish_rejects_reserved_metadata_keys(registry: ModelRegistry) -> None:
    """version, created_at and parent belong to the registry."""
    with pytest.raises(ValueError, match="set by the registry"):
        registry.publish(writer({}), {"parent": "x"})


def test_failed_write_leaves_current_and_no_half_version(registry: ModelRegistry) -> None:
    """A write callback that raises leaves CURRENT unchanged and no version or temp folder."""
    first = publish(registry, "a")

    def broken(directory: Path) -> None:
        (directory / ARTIFACT).write_text("{half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        registry.publish(broken, {})
    assert registry.current_version() == first
    assert [info.version for info in registry.list_versions()] == [first]
    assert not list(registry.models_dir.glob(".tmp-*"))


def test_list_versions_newest_first_and_shows_broken(registry: ModelRegistry) -> None:
    """list_versions is newest first and still lists a version with an unreadable version.json."""
    versions = [publish(registry, name) for name in "abc"]
    (registry.path_of(versions[0]) / "version.json").write_text("{not json")
    listed = registry.list_versions()
    assert [info.version for info in listed] == versions[::-1]
    assert [info.is_current for info in listed] == [True, False, False]
    assert listed[-1].error is not None and "version.json" in listed[-1].error
    assert json.loads(json.dumps(listed[0].as_dict()))["version"] == versions[-1]


def test_show_unknown_version_raises_no_model(registry: ModelRegistry) -> None:
    """show() of a well-formed but absent version raises NoModelError naming it."""
    with pytest.raises(NoModelError, match="20200101T000000Z-0000"):
        registry.show("20200101T000000Z-0000")


# --- killed retrain -------------------------------------------------------------------------

KILLED_PUBLISH = """
import sys, time
from pathlib import Path
from recommender.retrain.registry import ModelRegistry
models, marker = Path(sys.argv[1]), Path(sys.argv[2])
def write(directory):
    (directory / "artifact.json").write_text('{"name": "half')
    marker.write_text("writing")
    time.sleep(60)
ModelRegistry(models).publish(write, {"n_rows": 2})
"""


def test_sigkill_mid_write_leaves_current_serving(registry: ModelRegistry, tmp_path: Path) -> None:
    """A retrain killed with SIGKILL while writing leaves CURRENT on the old, loadable version."""
    old = publish(registry, "old")
    marker = tmp_path / "writing"
    process = start(KILLED_PUBLISH, registry.models_dir, marker)
    try:
        wait_for(marker, process)
    finally:
        kill(process)
    assert process.returncode == -signal.SIGKILL
    assert registry.current_version() == old
    assert [info.version for info in registry.list_versions()] == [old]
    leftovers = list(registry.models_dir.glob(".tmp-*"))
    assert len(leftovers) == 1
    watcher = ModelWatcher(registry, load_artifact)
    assert watcher.refresh() is True
    assert watcher.get() == ServedModel(old, {"name": "old"})
    # A fresh leftover may belong to a running retrain; a stale one is removed.
    registry.prune(keep=5)
    assert leftovers[0].exists()
    registry.prune(keep=5, stale_tmp_seconds=0)
    assert not leftovers[0].exists()
    assert registry.current_version() == old


# --- rollback and prune ---------------------------------------------------------------------


def test_rollback_switches_current_and_watcher_follows(registry: ModelRegistry) -> None:
    """set_current to an older version (rollback) is picked up by a running watcher."""
    old = publish(registry, "old")
    watcher = ModelWatcher(registry, load_artifact, poll_seconds=0)
    new = publish(registry, "new")
    watcher.refresh()
    assert watcher.get() == ServedModel(new, {"name": "new"})
    registry.set_current(old)
    assert registry.current_version() == old
    assert watcher.maybe_refresh() is True
    assert watcher.get() == ServedModel(old, {"name": "old"})


def test_rollback_refuses_missing_or_broken_versions(registry: ModelRegistry) -> None:
    """set_current refuses an unknown version, a broken version.json and a failing verify()."""
    good = publish(registry, "good")
    broken = publish(registry, "broken", make_current=False)
    (registry.path_of(broken) / "version.json").unlink()
    with pytest.raises(NoModelError):
        registry.set_current("20200101T000000Z-0000")
    with pytest.raises(ModelCompatibilityError, match="cannot be made current"):
        registry.set_current(broken)
    corrupt = publish(registry, "corrupt", make_current=False)
    (registry.path_of(corrupt) / ARTIFACT).write_text("{garbage")
    with pytest.raises(ModelCompatibilityError):
        registry.set_current(corrupt, verify=load_artifact)
    assert registry.current_version() == good


def test_prune_keeps_newest_n_and_never_current(registry: ModelRegistry) -> None:
    """prune keeps the newest N versions plus the current one, even when that one is old."""
    versions = [publish(registry, str(k)) for k in range(5)]
    registry.set_current(versions[0])
    removed = registry.prune(keep=2)
    assert sorted(removed) == sorted(versions[1:3])
    remaining = [info.version for info in registry.list_versions()]
    assert remaining == [versions[4], versions[3], versions[0]]
    assert registry.current_version() == versions[0]
    assert not list(registry.models_dir.glob(".trash-*"))
    assert registry.prune(keep=1) == [versions[3]]
    with pytest.raises(ValueError, match="keep=0"):
        registry.prune(keep=0)


def test_prune_leaves_everything_when_pointer_is_unreadable(registry: ModelRegistry) -> None:
    """With a garbled CURRENT no version is deleted: we cannot tell which one is served."""
    versions = [publish(registry, str(k)) for k in range(3)]
    registry.pointer_path.write_text("garbage")
    assert registry.prune(keep=1) == []
    assert len(registry.list_versions()) == len(versions)
    with pytest.raises(ModelCompatibilityError, match="not a version name"):
        registry.current_version()


def test_prune_ignores_unrelated_files(registry: ModelRegistry) -> None:
    """prune touches only version folders and its own debris (e.g. not .gitkeep)."""
    publish(registry, "a")
    (registry.models_dir / ".gitkeep").touch()
    (registry.models_dir / "notes").mkdir()
    registry.prune(keep=1, stale_tmp_seconds=0)
    assert (registry.models_dir / ".gitkeep").exists() and (registry.models_dir / "notes").exists()


# --- watcher --------------------------------------------------------------------------------


def test_watcher_refuses_corrupt_artifact_and_keeps_old(registry: ModelRegistry, caplog: pytest.LogCaptureFixture) -> None:
    """A corrupt artifact is refused with one clear error line; the old model keeps serving."""
    old = publish(registry, "old")
    watcher = ModelWatcher(registry, load_artifact, poll_seconds=0)
    watcher.refresh()
    bad = registry.publish(lambda d: (d / ARTIFACT).write_text("{corrupt"), {})
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="recommender.retrain.hot_swap"):
        assert watcher.refresh() is False
        assert watcher.refresh() is False  # not retried while the pointer is unchanged
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    message = errors[0].getMessage()
    assert message.startswith(f"refusing model {bad}: ModelCompatibilityError")
    assert message.endswith(f"; keeping {old}") and "\n" not in message
    assert watcher.get() == ServedModel(old, {"name": "old"})
    assert watcher.last_error is not None


def test_watcher_retries_when_pointer_is_rewritten(registry: ModelRegistry) -> None:
    """After a refusal, rewriting CURRENT (even to the same name) makes the watcher try again."""
    publish(registry, "old")
    watcher = ModelWatcher(registry, load_artifact)
    watcher.refresh()
    bad = registry.publish(lambda d: (d / ARTIFACT).write_text("{corrupt"), {})
    assert watcher.refresh() is False
    (registry.path_of(bad) / ARTIFACT).write_text(json.dumps({"name": "fixed"}))
    assert watcher.refresh() is False
    registry.set_current(bad)
    assert watcher.refresh() is True
    assert watcher.get() == ServedModel(bad, {"name": "fixed"})


def test_watcher_refuses_missing_artifact_folder(registry: ModelRegistry, caplog: pytest.LogCaptureFixture) -> None:
    """A pointer naming a missing folder is refused with a log line naming both versions."""
    old = publish(registry, "old")
    watcher = ModelWatcher(registry, load_artifact)
    watcher.refresh()
    registry.pointer_path.write_text("20200101T000000Z-0000\n")
    with caplog.at_level(logging.ERROR, logger="recommender.retrain.hot_swap"):
        assert watcher.refresh() is False
    assert "refusing model 20200101T000000Z-0000: NoModelError" in caplog.text
    assert f"keeping {old}" in caplog.text
    assert watcher.get().version == old


def test_watcher_refuses_garbled_pointer(registry: ModelRegistry, caplog: pytest.LogCaptureFixture) -> None:
    """A CURRENT file holding no version name is refused and the old model stays."""
    old = publish(registry, "old")
    watcher = ModelWatcher(registry, load_artifact)
    watcher.refresh()
    registry.pointer_path.write_text("../../etc/passwd")
    with caplog.at_level(logging.ERROR, logger="recommender.retrain.hot_swap"):
        assert watcher.refresh() is False
    assert "refusing model pointer" in caplog.text and f"keeping {old}" in caplog.text
    assert watcher.get().version == old


def test_watcher_on_swap_failure_refuses(registry: ModelRegistry) -> None:
    """If on_swap raises, the new model is never shown to readers."""
    old = publish(registry, "old")
    calls: list[str] = []

    def on_swap(version: str, model: object) -> None:
        calls.append(version)
        if len(calls) > 1:
            raise RuntimeError("precompute failed")

    watcher = ModelWatcher(registry, load_artifact, on_swap=on_swap)
    watcher.refresh()
    new = publish(registry, "new")
    assert watcher.refresh() is False
    assert calls == [old, new]
    assert watcher.get().version == old


def test_watcher_without_model(registry: ModelRegistry) -> None:
    """Before any model exists get() is None and require() raises NoModelError."""
    watcher = ModelWatcher(registry, load_artifact)
    assert watcher.refresh() is False
    assert watcher.get() is None
    with pytest.raises(NoModelError):
        watcher.require()


def test_maybe_refresh_waits_for_poll_interval(registry: ModelRegistry) -> None:
    """maybe_refresh checks the pointer only once poll_seconds have passed."""
    now = [100.0]
    first = publish(registry, "a")
    watcher = ModelWatcher(registry, load_artifact, poll_seconds=5, clock=lambda: now[0])
    assert watcher.maybe_refresh() is True
    second = publish(registry, "b")
    now[0] += 4
    assert watcher.maybe_refresh() is False
    assert watcher.get().version == first
    now[0] += 1
    assert watcher.maybe_refresh() is True
    assert watcher.get().version == second


def test_watcher_readers_never_see_a_gap_during_swaps(registry: ModelRegistry) -> None:
    """Threads reading get() (and polling) while another swaps repeatedly always see a
    consistent model. No wall-clock assumption: the swaps start once every reader has read,
    each swap waits until the readers have read again (so reads and swaps interleave however
    slow the machine is), and each swap is checked by the version served after it, whichever
    thread (the swapper or a polling reader) loaded it."""
    versions = [publish(registry, name) for name in ("a", "b")]
    names = {versions[0]: "a", versions[1]: "b"}
    watcher = ModelWatcher(registry, load_artifact, poll_seconds=0)
    watcher.refresh()
    stop = threading.Event()
    problems: list[str] = []
    reads = [0] * 4  # one counter per reader: no lost updates

    def read(me: int) -> None:
        while not stop.is_set():
            try:
                served = watcher.get()
                if served is None or served.model != {"name": names[served.version]}:
                    problems.append(f"inconsistent {served!r}")
                watcher.maybe_refresh()
                reads[me] += 1
                time.sleep(0.0001)  # yield the GIL, as a request handler doing I/O would
            except Exception as exc:  # noqa: BLE001 - any exception is the failure we look for
                problems.append(repr(exc))

    def readers_read(enough) -> None:
        deadline = time.monotonic() + 30  # only a hang guard: never reached on a working machine
        while not enough() and not problems:
            assert time.monotonic() < deadline, f"the readers did not run: {reads}"
            time.sleep(0.001)

    readers = [threading.Thread(target=read, args=(me,)) for me in range(len(reads))]
    for thread in readers:
        thread.start()
    served_after = []
    try:
        readers_read(lambda: all(reads))
        for k in range(40):
            before = sum(reads)
            registry.set_current(versions[k % 2])
            watcher.refresh()  # swaps, unless a polling reader already has
            served_after.append(watcher.get().version)
            readers_read(lambda: sum(reads) > before)
    finally:
        stop.set()
        for thread in readers:
            thread.join(timeout=10)
    assert problems == []
    assert served_after == [versions[k % 2] for k in range(40)]  # every swap happened


# --- retrain lock ---------------------------------------------------------------------------

HOLD_LOCK = """
import sys, time
from pathlib import Path
from recommender.retrain.lock import retrain_lock
lock, marker = Path(sys.argv[1]), Path(sys.argv[2])
with retrain_lock(lock, owner="cron"):
    marker.write_text("held")
    time.sleep(60)
"""


@pytest.fixture
def lock_holder(registry: ModelRegistry, tmp_path: Path) -> Iterator[subprocess.Popen]:
    marker = tmp_path / "held"
    process = start(HOLD_LOCK, registry.lock_path, marker)
    try:
        wait_for(marker, process)
        yield process
    finally:
        kill(process)


def test_concurrent_retrains_second_gets_retrain_in_progress(registry: ModelRegistry, lock_holder: subprocess.Popen) -> None:
    """While one process retrains, a second one is refused with a message naming the holder."""
    with pytest.raises(RetrainInProgress, match="另一个重新训练正在进行中") as caught:
        with retrain_lock(registry.lock_path):
            pytest.fail("the lock should be held by the other process")
    message = str(caught.value)
    assert f"进程 {lock_holder.pid}" in message and "由 cron 启动" in message
    # one language per message (README, Command line): only the host name, the owner and UTC as typed
    rest = message.replace(socket.gethostname(), "").replace("cron", "").replace("UTC", "")
    assert not re.search(r"[A-Za-z]{3,}", rest), message
    assert caught.value.holder["pid"] == lock_holder.pid


def test_lock_is_free_after_holder_is_killed(registry: ModelRegistry, lock_holder: subprocess.Popen) -> None:
    """A retrain killed with SIGKILL does not leave a lock that blocks the next one."""
    kill(lock_holder)
    with retrain_lock(registry.lock_path, owner="console") as holder:
        assert holder["pid"] == os.getpid()


def test_lock_waits_up_to_timeout(registry: ModelRegistry, lock_holder: subprocess.Popen) -> None:
    """A positive timeout waits, then refuses."""
    started = time.monotonic()
    with pytest.raises(RetrainInProgress):
        with retrain_lock(registry.lock_path, timeout=0.2):
            pass
    assert time.monotonic() - started >= 0.2


def test_lock_released_on_exception_and_exclusive_in_process(registry: ModelRegistry) -> None:
    """The lock is exclusive even within one process and is released when the block raises."""
    with pytest.raises(KeyError):
        with retrain_lock(registry.lock_path):
            with pytest.raises(RetrainInProgress, match="进程"):
                with retrain_lock(registry.lock_path):
                    pass
            raise KeyError("boom")
    assert not registry.lock_path.with_name(".retrain.lock.holder.json").exists()
    with retrain_lock(registry.lock_path):
        pass
