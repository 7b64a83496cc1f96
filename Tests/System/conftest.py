"""Fixtures for the znetd system tests: a real systemd as PID 1 in private namespaces.

Standard library only (pytest 7 and later).  Root only.

Overview
--------
* ``znetd_bin`` (session): the daemon binary, ``$ZNETD_BIN`` or
  ``<repo>/.build/release/znetd``.  Skips when it is missing, or when it cannot read a
  configuration file yet (``znetd check --config FILE`` fails).
* ``sandboxes`` (session): boots sandboxes with ``systemd-sandbox.sh boot
  --stop-with=<pytest pid>`` and stops every sandbox it booted at the end of the session,
  whatever happened (``--stop-with`` also stops them if pytest itself dies).  Skips when not
  root, or when cgroup2, unshare, nsenter or systemd are unavailable.
* ``sandbox`` (module): one booted :class:`Sandbox` shared by the tests of a module.
* ``new_sandbox`` (function): a factory for a sandbox of the test's own, stopped after it.
* ``znetd`` (module): a sandbox with znetd installed (:class:`ZnetdDeployment`): the binary
  at /usr/bin/znetd, the project's ``units/znetd.service`` and ``units/znetd.socket`` copied
  unmodified, /etc/znetd/znetd.yaml, and two HTTP backends (127.0.0.1:9090 and :9091).

:class:`Sandbox` offers ``exec(cmd...) -> CompletedProcess``, ``write(path, text)`` (into
the sandbox root through /proc/PID/root), ``journal(unit) -> list[dict]``,
``connect(port, data)`` / ``client(mode, ...)`` (a client run inside the sandbox's network
namespace with ``nsenter -t PID -n``) and a few systemctl helpers.

Environment
-----------
``ZNETD_BIN``                  binary to test
``ZNETD_SYSTEM_TEST_TIMEOUT``  bound on each test's call phase in seconds (default 90)
``ZNETD_SYSTEM_STRICT=1``      fail instead of skipping when the prerequisites are missing
                               (for CI, where a skip would hide a broken set-up)
``ZNETD_SYSTEM_KEEP_JOURNAL``  directory: save each sandbox's whole journal there at stop
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest

from znetd_sandbox import (DEFAULT_BIN, HERE, SandboxManager, ZnetdDeployment, render_config,
                           skip_or_fail)

TEST_CALL_TIMEOUT = int(os.environ.get("ZNETD_SYSTEM_TEST_TIMEOUT", "90"))


# --------------------------------------------------------------------------------------
# Per-test time limit
# --------------------------------------------------------------------------------------


class SystemTestTimeout(Exception):
    """Raised in the main thread when a system test exceeds TEST_CALL_TIMEOUT."""


def _in_this_directory(item):
    return Path(str(item.fspath)).resolve().parent == HERE


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    """Bound the call phase of every system test with SIGALRM."""
    if not _in_this_directory(item):
        yield
        return

    def on_alarm(signum, frame):
        raise SystemTestTimeout(
            f"test exceeded {TEST_CALL_TIMEOUT}s (ZNETD_SYSTEM_TEST_TIMEOUT)")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(TEST_CALL_TIMEOUT)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On failure, attach what znetd was doing: its journal (info and above; PID 1's debug
    lines left out) and, if it runs, where each of its threads waits in the kernel."""
    outcome = yield
    report = outcome.get_result()
    if not report.failed or call.when != "call":
        return
    deployment = item.funcargs.get("znetd")
    if not isinstance(deployment, ZnetdDeployment):
        return
    try:
        journal = deployment.journal_text(limit=60)
        threads = deployment.thread_states()
    except Exception as exc:  # the sandbox may be gone; the report matters more
        journal, threads = f"(unavailable: {exc})", ""
    report.sections.append(("sandbox journal: znetd.service, znetd.socket (last 60, UTC)",
                            journal))
    if threads:
        report.sections.append(("znetd threads (name, kernel wait channel)", threads))


_REPORT_LINES = []


@pytest.fixture
def report(request):
    """``report(text)``: a line for the end-of-run summary (scores, timings), so they show
    even with ``-q`` and passing tests."""
    def add(text):
        _REPORT_LINES.append(f"{request.node.name}: {text}")
        print(text)
    return add


def pytest_terminal_summary(terminalreporter):
    if _REPORT_LINES:
        terminalreporter.section("znetd system tests")
        for line in _REPORT_LINES:
            terminalreporter.write_line(line)


# --------------------------------------------------------------------------------------
# Sandboxes
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sandboxes():
    """Session-wide sandbox manager; stops every sandbox it booted, even after failures."""
    manager = SandboxManager()
    try:
        yield manager
    finally:
        manager.stop_all()


@pytest.fixture(scope="module")
def sandbox(sandboxes):
    """One sandbox for the tests of a module."""
    sb = sandboxes.boot()
    try:
        yield sb
    finally:
        sandboxes.stop(sb)


@pytest.fixture
def new_sandbox(sandboxes):
    """Factory: ``new_sandbox()`` boots a sandbox that is stopped after the test."""
    mine = []

    def boot(*options):
        sb = sandboxes.boot(*options)
        mine.append(sb)
        return sb

    try:
        yield boot
    finally:
        for sb in mine:
            sandboxes.stop(sb)


# --------------------------------------------------------------------------------------
# znetd
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def znetd_bin():
    """The znetd binary under test; skips when it is missing or cannot read config files."""
    path = Path(os.environ.get("ZNETD_BIN", DEFAULT_BIN)).resolve()
    if not (path.is_file() and os.access(path, os.X_OK)):
        skip_or_fail(f"znetd binary not found at {path}: build it with "
                     "`swift build -c release --static-swift-stdlib` or set ZNETD_BIN")
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "znetd.yaml"
        config.write_text(render_config())
        check = subprocess.run([str(path), "check", "--config", str(config)],
                               capture_output=True, text=True, timeout=30)
    if check.returncode != 0:
        skip_or_fail(f"{path} cannot read a configuration file yet (`znetd check --config "
                     f"FILE` exited {check.returncode}: {check.stderr.strip()[:200]!r}); "
                     "the system tests drive znetd through /etc/znetd/znetd.yaml")
    return path


@pytest.fixture(scope="module")
def znetd(znetd_bin, sandbox):
    """The module's sandbox with znetd, its units, a config and two backends installed."""
    deployment = ZnetdDeployment(sandbox, znetd_bin)
    deployment.install()
    return deployment
