"""The allocator set-up the workbench's processes run with (tcmalloc, else tuned glibc)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from workbench.engine import allocator
from workbench.errors import ConfigError

SCRIPT = ("from workbench.engine import allocator\n"
          "allocator.reexec_with_allocator()\n"
          "print(allocator.active_allocator())\n")


def test_tcmalloc_is_preloaded_when_installed(tmp_path: Path) -> None:
    library = tmp_path / "libtcmalloc_minimal.so.4"
    library.write_bytes(b"")
    found = allocator.find_tcmalloc([str(tmp_path / "none"), str(tmp_path)])
    assert found == str(library)
    assert allocator.find_tcmalloc([str(tmp_path / "none")]) is None


def test_env_chooses_tcmalloc_then_tuned_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(allocator, "find_tcmalloc", lambda: "/lib/libtcmalloc_minimal.so.4")
    env, name = allocator.allocator_env({"LD_PRELOAD": "/lib/other.so"})
    assert name == "tcmalloc" and env["LD_PRELOAD"] == "/lib/libtcmalloc_minimal.so.4:/lib/other.so"
    assert "MALLOC_MMAP_THRESHOLD_" not in env and int(env["TCMALLOC_LARGE_ALLOC_REPORT_THRESHOLD"]) > 2 ** 32
    env, name = allocator.allocator_env({}, "glibc-tuned")
    assert name == "glibc-tuned" and env["MALLOC_MMAP_THRESHOLD_"] == "33554432" and "LD_PRELOAD" not in env
    assert env["MALLOC_TRIM_THRESHOLD_"] == str(64 * 2 ** 30) and env["MALLOC_TOP_PAD_"] == str(2 ** 30)
    assert allocator.allocator_env({"PATH": "/bin"}, "system") == ({"PATH": "/bin"}, "system")
    monkeypatch.setattr(allocator, "find_tcmalloc", lambda: None)
    assert allocator.allocator_env({})[1] == "glibc-tuned"  # the fallback needs no package
    with pytest.raises(ConfigError, match="libtcmalloc-minimal4"):
        allocator.allocator_env({}, "tcmalloc")
    with pytest.raises(ConfigError, match="jemalloc"):
        allocator.allocator_env({"WORKBENCH_ALLOCATOR": "jemalloc"})


def test_active_allocator_reads_the_loaded_libraries(tmp_path: Path) -> None:
    maps = tmp_path / "maps"
    maps.write_text("7f00 r-xp /usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4.5\n")
    assert allocator.active_allocator(str(maps), {}) == "tcmalloc"
    maps.write_text("7f00 r-xp /usr/lib/x86_64-linux-gnu/libc.so.6\n")
    assert allocator.active_allocator(str(maps), dict(allocator.GLIBC_TUNING)) == "glibc-tuned"
    assert allocator.active_allocator(str(maps), {}) == "glibc"


@pytest.mark.parametrize("choice", ["auto", "glibc-tuned", "system"])
def test_a_process_restarts_itself_with_the_chosen_allocator(choice: str, tmp_path: Path) -> None:
    env = {k: v for k, v in __import__("os").environ.items()
           if k not in ("LD_PRELOAD", allocator.MARKER, *allocator.GLIBC_TUNING)}
    env["WORKBENCH_ALLOCATOR"] = choice
    script = tmp_path / "probe.py"
    script.write_text(SCRIPT)
    out = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, check=True)
    expected = {"auto": "tcmalloc" if allocator.find_tcmalloc() else "glibc-tuned",
                "glibc-tuned": "glibc-tuned", "system": "glibc"}[choice]
    assert out.stdout.strip() == expected
