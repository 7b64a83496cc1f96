"""The control socket: permissions, runtime registration of backends, grace, persistence."""

import json
import os
import socket
import stat
import threading
import time

from conftest import connect, echo_round_trip, free_port, wait_until
from control_client import as_user, start_wait_registration, status_json, znetd_cli

DEAD = "127.0.0.1:1"


def config_with(listen, extra=""):
    # The configured target is dead: only registered backends can serve.
    return f"""
        {extra}
        services:
          app:
            listen: "{listen}"
            target: "{DEAD}"
            connect_timeout: 1s
        """


def start(start_znetd, sock_dir, tmp_path, extra="", args=()):
    listen = f"127.0.0.1:{free_port()}"
    control = sock_dir / "control.sock"
    daemon = start_znetd(config=config_with(listen, extra),
                         args=["--control-socket", control, "--state-directory", tmp_path, *args],
                         ready=[listen])
    wait_until(lambda: control.exists(), 5, message="control socket")
    return daemon, listen, control


def served(listen):
    try:
        return echo_round_trip(listen, b"ping\n", timeout=3) == b"ping\n"
    except (OSError, AssertionError):  # refused, reset, or closed before the echo
        return False


def test_socket_mode_and_refused_peer(start_znetd, sock_dir, tmp_path, znetd_bin):
    """0600 without a group: another user cannot even connect, and says so. With
    ``group: nogroup`` (0660) the member may read the status but not register: a clear
    error reply, and a journal line naming its uid."""
    prefix = as_user("nobody")  # skips unless root
    daemon, listen, control = start(start_znetd, sock_dir, tmp_path)
    assert stat.S_IMODE(os.stat(control).st_mode) == 0o600
    os.chmod(sock_dir, 0o755)
    result = znetd_cli(znetd_bin, "status", "--control-socket", control, user="nobody")
    assert result.returncode == 1
    assert "permission denied" in result.stderr
    daemon.kill()

    daemon, listen, control = start(start_znetd, sock_dir, tmp_path, extra="control: {group: nogroup}")
    info = os.stat(control)
    assert stat.S_IMODE(info.st_mode) == 0o660
    result = znetd_cli(znetd_bin, "status", "--control-socket", control, user="nobody")
    assert result.returncode == 0, result.stderr
    assert "app" in result.stdout
    result = znetd_cli(znetd_bin, "register", "--service", "app", "--target", "127.0.0.1:2",
                       "--control-socket", control, user="nobody")
    assert result.returncode == 1
    assert "permission denied: uid 65534 may not change registrations" in result.stderr
    daemon.wait_stderr(r"control request 'register' refused for pid \d+ uid 65534")
    assert prefix


def test_allow_uids_may_register(start_znetd, sock_dir, tmp_path, znetd_bin, backends):
    """allow_uids lets a user register; a reload that adds it takes effect at once."""
    import signal

    as_user("nobody")
    os.chmod(sock_dir, 0o755)
    daemon, listen, control = start(start_znetd, sock_dir, tmp_path, extra="control: {group: nogroup}")
    echo = backends.echo()
    register = ["register", "--service", "app", "--target", echo.addr, "--control-socket", control]
    assert znetd_cli(znetd_bin, *register, user="nobody").returncode == 1
    mark = daemon.notify.mark()
    daemon.write_config(config_with(listen, "control: {group: nogroup, allow_uids: [nobody]}"))
    daemon.signal(signal.SIGHUP)
    reloading = daemon.notify.wait_for("RELOADING=1", timeout=5, start=mark)
    daemon.notify.wait_for("READY=1", timeout=5, start=reloading + 1)
    result = znetd_cli(znetd_bin, *register, user="nobody")
    assert result.returncode == 0, result.stderr
    assert served(listen)


def test_registered_backend_serves_and_goes(start_znetd, sock_dir, tmp_path, znetd_bin, backends):
    """Traffic reaches a registered backend; after ``unregister --now`` it does not."""
    daemon, listen, control = start(start_znetd, sock_dir, tmp_path)
    assert not served(listen)
    echo = backends.echo()
    result = znetd_cli(znetd_bin, "register", "--service", "app", "--target", echo.addr,
                       "--control-socket", control)
    assert result.returncode == 0, result.stderr
    assert all(served(listen) for _ in range(4))
    assert echo.accepted >= 4
    services = status_json(znetd_bin, control)
    assert [r["target"] for r in services["app"]["registrations"]] == [echo.addr]
    assert echo.addr in [b["address"] for b in services["app"]["backends"]]

    result = znetd_cli(znetd_bin, "unregister", "--service", "app", "--target", echo.addr, "--now",
                       "--control-socket", control)
    assert result.returncode == 0, result.stderr
    before = echo.accepted
    assert not served(listen)
    assert echo.accepted == before
    services = status_json(znetd_bin, control)
    assert services["app"]["registrations"] == []
    # Unknown service and unknown registration: clear errors.
    result = znetd_cli(znetd_bin, "register", "--service", "nope", "--target", echo.addr,
                       "--control-socket", control)
    assert result.returncode == 1 and "no service 'nope' in this znetd" in result.stderr
    result = znetd_cli(znetd_bin, "unregister", "--service", "app", "--target", echo.addr,
                       "--control-socket", control)
    assert result.returncode == 1 and "no such registration" in result.stderr
    result = znetd_cli(znetd_bin, "register", "--service", "app", "--listener", "web",
                       "--control-socket", control)
    assert result.returncode == 1 and "no listener 'web' in this znetd" in result.stderr


def test_wait_registration_grace_holds_clients(start_znetd, sock_dir, tmp_path, znetd_bin, backends):
    """``register --wait``: the registration lives as long as the command. When it goes, new
    clients are held for the grace period; a registration within it lets them through to
    the backend that came back."""
    daemon, listen, control = start(start_znetd, sock_dir, tmp_path)
    echo = backends.echo()
    holder = start_wait_registration(znetd_bin, control, "app", echo.addr, grace="8s")
    assert served(listen)
    holder.terminate()
    holder.wait(5)
    daemon.wait_stderr("its registering client .* went away")
    wait_until(lambda: status_json(znetd_bin, control)["app"]["state"] == "holding", 5, message="holding")

    # A client arriving during the grace period waits...
    result = {}

    def client():
        try:
            result["echo"] = echo_round_trip(listen, b"held\n", timeout=10)
        except OSError as error:
            result["error"] = error

    thread = threading.Thread(target=client)
    thread.start()
    wait_until(lambda: status_json(znetd_bin, control)["app"]["held"] == 1, 5, message="client held")
    assert thread.is_alive()
    # ...until the service registers again.
    again = start_wait_registration(znetd_bin, control, "app", echo.addr, grace="0s")
    thread.join(10)
    assert result.get("echo") == b"held\n", result
    assert status_json(znetd_bin, control)["app"]["state"] == "ready"
    again.terminate()
    again.wait(5)


def test_grace_expiry_fails_held_clients(start_znetd, sock_dir, tmp_path, znetd_bin, backends):
    daemon, listen, control = start(start_znetd, sock_dir, tmp_path)
    echo = backends.echo()
    result = znetd_cli(znetd_bin, "register", "--service", "app", "--target", echo.addr, "--grace", "1s",
                       "--control-socket", control)
    assert result.returncode == 0, result.stderr
    assert znetd_cli(znetd_bin, "unregister", "--service", "app", "--target", echo.addr,
                     "--control-socket", control).returncode == 0
    sock = connect(listen)
    sock.sendall(b"x")
    started = time.monotonic()
    sock.settimeout(10)
    try:
        data = sock.recv(10)
    except ConnectionResetError:
        data = b""
    # Held for the grace period, then the usual failure (the dead configured target).
    assert data == b""
    assert time.monotonic() - started >= 0.8
    daemon.wait_stderr("did not come back within 1s; removed")
    assert status_json(znetd_bin, control)["app"]["registrations"] == []

    # unregister --now ends a grace period at once.
    assert znetd_cli(znetd_bin, "register", "--service", "app", "--target", echo.addr, "--grace", "30s",
                     "--control-socket", control).returncode == 0
    assert znetd_cli(znetd_bin, "unregister", "--service", "app", "--target", echo.addr,
                     "--control-socket", control).returncode == 0
    assert status_json(znetd_bin, control)["app"]["state"] == "holding"
    assert znetd_cli(znetd_bin, "unregister", "--service", "app", "--target", echo.addr, "--now",
                     "--control-socket", control).returncode == 0
    app = status_json(znetd_bin, control)["app"]
    assert app["state"] != "holding" and app["registrations"] == []


def test_persistent_registration_survives_restart(start_znetd, sock_dir, tmp_path, znetd_bin, backends):
    daemon, listen, control = start(start_znetd, sock_dir, tmp_path)
    echo = backends.echo()
    other = backends.echo()
    assert znetd_cli(znetd_bin, "register", "--service", "app", "--target", echo.addr, "--persistent",
                     "--control-socket", control).returncode == 0
    assert znetd_cli(znetd_bin, "register", "--service", "app", "--target", other.addr,
                     "--control-socket", control).returncode == 0
    saved = json.loads((tmp_path / "registrations.json").read_text())
    assert [r["target"] for r in saved["registrations"]] == [echo.addr]
    daemon.kill()

    daemon = start_znetd(config=config_with(listen), ready=[listen],
                         args=["--control-socket", control, "--state-directory", tmp_path])
    wait_until(lambda: control.exists(), 5, message="control socket")
    services = status_json(znetd_bin, control)
    assert [r["target"] for r in services["app"]["registrations"]] == [echo.addr]
    assert services["app"]["registrations"][0]["persistent"] is True
    assert served(listen)
    daemon.wait_stderr("restored persistent backend")
    # Without a state directory a persistent registration is refused, clearly.
    daemon.kill()
    daemon = start_znetd(config=config_with(listen), ready=[listen], args=["--control-socket", control])
    wait_until(lambda: control.exists(), 5, message="control socket")
    result = znetd_cli(znetd_bin, "register", "--service", "app", "--target", echo.addr, "--persistent",
                       "--control-socket", control)
    assert result.returncode == 1 and "no state directory" in result.stderr


def test_malformed_requests_get_error_replies(start_znetd, sock_dir, tmp_path):
    daemon, listen, control = start(start_znetd, sock_dir, tmp_path)
    client = socket.socket(socket.AF_UNIX)
    client.settimeout(5)
    client.connect(str(control))
    reader = client.makefile("rb")
    for line, expected in [
        (b"{not json}\n", "invalid JSON at byte 2"),
        (b'{"command": "launch"}\n', "unknown command 'launch'"),
        (b'[1]\n', '"command" is required'),
        (b'{"command": "status", "service": "x"}\n', "no service 'x'"),
    ]:
        client.sendall(line)
        reply = json.loads(reader.readline())
        assert reply["ok"] is False and expected in reply["error"], reply
    client.sendall(b'{"command": "status"}\n')
    reply = json.loads(reader.readline())
    assert reply["ok"] is True and reply["services"][0]["name"] == "app"
    client.close()


def test_registration_outlives_a_reload(start_znetd, sock_dir, tmp_path, znetd_bin, backends):
    """A reload rebuilds the service's backends from the file: registered ones stay."""
    import signal

    daemon, listen, control = start(start_znetd, sock_dir, tmp_path)
    echo = backends.echo()
    assert znetd_cli(znetd_bin, "register", "--service", "app", "--target", echo.addr,
                     "--control-socket", control).returncode == 0
    mark = daemon.notify.mark()
    daemon.write_config(config_with(listen).replace("connect_timeout: 1s", "connect_timeout: 2s"))
    daemon.signal(signal.SIGHUP)
    reloading = daemon.notify.wait_for("RELOADING=1", timeout=5, start=mark)
    daemon.notify.wait_for("READY=1", timeout=5, start=reloading + 1)
    daemon.wait_stderr("configuration reloaded")
    services = status_json(znetd_bin, control)
    assert echo.addr in [b["address"] for b in services["app"]["backends"]]
    assert all(served(listen) for _ in range(3))


def test_unrestorable_persistent_route_is_kept(start_znetd, sock_dir, tmp_path, znetd_bin, backends):
    """A persistent route this znetd cannot restore (it has no such shared listener) stays in the
    file when other registrations change it; a broken entry is skipped with a message."""
    route = {"service": "app", "listener": "web", "host": "a.example", "persistent": True, "grace_ms": 0}
    (tmp_path / "registrations.json").write_text(json.dumps(
        {"version": 1, "registrations": [route, {"service": "app", "target": "no-port"}]}))
    daemon, listen, control = start(start_znetd, sock_dir, tmp_path)
    daemon.wait_stderr("cannot restore route a.example/ on listener web to service app: no listener 'web' in this znetd; "
                       "kept in .*registrations.json")
    daemon.wait_stderr("ignoring an entry of .*registrations.json: \"target\": ")
    echo = backends.echo()
    assert znetd_cli(znetd_bin, "register", "--service", "app", "--target", echo.addr, "--persistent",
                     "--control-socket", control).returncode == 0
    saved = json.loads((tmp_path / "registrations.json").read_text())["registrations"]
    assert route in saved
    assert [r.get("target") for r in saved if "target" in r] == [echo.addr]
