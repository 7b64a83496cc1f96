"""The Debian package under a running systemd: what its maintainer scripts do to the units.

packaging/test-install covers a minimal Debian root without systemd running; here the same
package is installed with dpkg into a sandbox whose PID 1 is systemd (the sandbox's root is an
overlay in RAM: nothing reaches the host's dpkg database), and the test checks that

* installing runs the generator (daemon-reload) and starts and enables nothing;
* an upgrade restarts a running generated znetd service, and its socket stays, but not the
  transient units of on-demand backends;
* removing stops the generated socket and service, and the backends' transient units, and
  systemd forgets the generated units;
* purging removes the conffile and leaves the administrator's own files.

The package is ``$ZNETD_DEB``, else ``out/znetd_VERSION_ARCH.deb`` (packaging/build-deb).
"""

import os
from pathlib import Path

import pytest

from znetd_sandbox import REPO_ROOT, skip_or_fail, wait_until

WEB = """\
services:
  web:
    listen: ":8080"
    target: "127.0.0.1:9090"
"""


@pytest.fixture(scope="module")
def deb():
    if os.environ.get("ZNETD_DEB"):
        path = Path(os.environ["ZNETD_DEB"])
    else:
        found = sorted(p for p in (REPO_ROOT / "out").glob("znetd_*.deb"))
        path = found[-1] if found else REPO_ROOT / "out" / "znetd_VERSION_ARCH.deb"
    if not path.is_file():
        skip_or_fail(f"no Debian package at {path}: build it with packaging/build-deb "
                     "(or set ZNETD_DEB)")
    return path


def dpkg(sb, *args):
    result = sb.exec("dpkg", *args, timeout=80)
    assert result.returncode == 0, f"dpkg {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def load_state(sb, unit):
    return sb.show(unit, "LoadState")["LoadState"]


def main_pid(sb, unit):
    return int(sb.show(unit, "MainPID")["MainPID"])


def test_install_upgrade_remove_purge(deb, new_sandbox):
    sb = new_sandbox()
    # man-db's trigger would rebuild the whole index for each dpkg call: not what is tested.
    sb.remove("/var/lib/man-db/auto-update")
    # A container image's policy-rc.d (exit 101) forbids deb-systemd-invoke to act, as it should
    # there; this is to be a normal machine.
    sb.remove("/usr/sbin/policy-rc.d")
    sb.copy_in(deb, "/tmp/znetd.deb", mode=0o644)
    sb.write("/etc/znetd/conf.d/web.yaml", WEB)

    dpkg(sb, "-i", "/tmp/znetd.deb")
    assert load_state(sb, "znetd-web.socket") == "loaded", "postinst did not run the generator"
    assert load_state(sb, "znetd-web.service") == "loaded"
    for unit in ("znetd.socket", "znetd.service", "znetd-web.socket", "znetd-web.service"):
        assert sb.is_active(unit) == "inactive", f"{unit} was started by the installation"
    assert sb.exec("systemctl", "is-enabled", "znetd.socket").stdout.strip() == "disabled"
    # indirect: znetd.service's [Install] only says Also=znetd.socket.
    assert sb.exec("systemctl", "is-enabled", "znetd.service").stdout.strip() in ("disabled", "indirect")

    # Masking the generator, as znetd-generator(8) says, removes its units.
    generated = sb.path("/run/systemd/generator/znetd-web.socket")
    assert generated.exists()
    sb.exec("mkdir", "-p", "/etc/systemd/system-generators", check=True)
    sb.exec("ln", "-s", "/dev/null", "/etc/systemd/system-generators/znetd-generator", check=True)
    sb.systemctl("daemon-reload")
    assert not generated.exists(), "a generator symlinked to /dev/null still ran"
    sb.remove("/etc/systemd/system-generators/znetd-generator")
    sb.systemctl("daemon-reload")
    assert generated.exists()

    # As znetd-generator(8) says: the sockets of new services start with sockets.target.
    sb.systemctl("start", "sockets.target")
    assert sb.is_active("znetd-web.socket") == "active"
    assert sb.is_active("znetd.socket") == "inactive"
    sb.systemctl("start", "znetd-web.service")
    wait_until(lambda: sb.is_active("znetd-web.service") == "active", 15,
               message="znetd-web.service active")
    before = main_pid(sb, "znetd-web.service")
    # A transient unit like those znetd starts for on-demand backends.
    sb.exec("systemd-run", "--unit=znetd-web-backend.service", "--quiet", "sleep", "infinity",
            check=True)
    backend = main_pid(sb, "znetd-web-backend.service")

    # The same version again is an upgrade for the maintainer scripts (configure with the old
    # version): the running znetd is restarted on the new binary, its socket stays.
    dpkg(sb, "-i", "/tmp/znetd.deb")
    wait_until(lambda: sb.is_active("znetd-web.service") == "active", 15,
               message="znetd-web.service active after the upgrade")
    assert main_pid(sb, "znetd-web.service") != before, "the upgrade did not restart znetd"
    assert sb.is_active("znetd-web.socket") == "active"
    assert sb.is_active("znetd.service") == "inactive", "the upgrade started the sample unit"
    assert main_pid(sb, "znetd-web-backend.service") == backend, "the upgrade restarted a backend"

    dpkg(sb, "-r", "znetd")
    assert sb.is_active("znetd-web.socket") == "inactive", "removal left the socket running"
    assert sb.is_active("znetd-web.service") == "inactive", "removal left znetd running"
    assert sb.is_active("znetd-web-backend.service") == "inactive", "removal left a backend running"
    assert load_state(sb, "znetd-web.service") == "not-found", "no daemon-reload after removal"
    assert sb.path("/etc/znetd/znetd.yaml").exists(), "removal deleted the configuration"

    dpkg(sb, "-P", "znetd")
    assert not sb.path("/etc/znetd/znetd.yaml").exists(), "purge left the conffile"
    assert sb.path("/etc/znetd/conf.d/web.yaml").exists(), "purge deleted the administrator's file"
