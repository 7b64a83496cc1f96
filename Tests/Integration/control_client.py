"""Helpers for the control-socket tests: run ``znetd status/register/unregister``."""

import json
import os
import shutil
import subprocess

import pytest

from conftest import clean_env


def znetd_cli(binary, *args, user=None, timeout=20):
    """Runs ``znetd ARGS`` (as ``user`` through setpriv when given); a CompletedProcess."""
    argv = [str(binary)] + [str(a) for a in args]
    if user is not None:
        argv = as_user(user) + argv
    return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout, env=clean_env())


def as_user(user):
    """An argv prefix running a command as ``user`` ("nobody") in group ``nogroup``."""
    if os.geteuid() != 0:
        pytest.skip("running a client as another user needs root")
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is needed to run a client as another user")
    return ["setpriv", f"--reuid={user}", "--regid=nogroup", "--clear-groups"]


def status_json(binary, socket_path, *extra):
    result = znetd_cli(binary, "status", "--json", "--control-socket", socket_path, *extra)
    assert result.returncode == 0, result.stderr
    daemons = json.loads(result.stdout)["znetd"]
    return {s["name"]: s for d in daemons for s in d["services"]}


def start_wait_registration(binary, socket_path, service, target, grace="5s"):
    """``znetd register --wait`` in the background; returns the Popen once it registered."""
    proc = subprocess.Popen(
        [str(binary), "register", "--wait", "--service", service, "--target", target,
         "--grace", grace, "--control-socket", str(socket_path)],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=clean_env(), start_new_session=True)
    line = proc.stdout.readline()
    assert line.startswith("registered"), (line, proc.stderr.read() if proc.poll() is not None else "")
    return proc
