"""Socket activation: znetd takes its listening sockets from systemd (LISTEN_FDS).

systemd-socket-activate (from systemd) plays the role of the socket unit: it binds
the sockets, waits for a first connection, then execs znetd with LISTEN_FDS,
LISTEN_PID and LISTEN_FDNAMES.
"""

import shutil

import pytest

from conftest import connect, free_port, listening_sockets, recv_exact, recv_line

pytestmark = pytest.mark.skipif(
    shutil.which("systemd-socket-activate") is None,
    reason="systemd-socket-activate is not installed",
)


def two_service_config(pa, pb, alpha, bravo):
    return f"""
    services:
      alpha:
        listen: "127.0.0.1:{pa}"
        target: "{alpha.addr}"
      bravo:
        listen: "127.0.0.1:{pb}"
        target: "{bravo.addr}"
    """


def assert_reaches(addr, name):
    """A connection to ``addr`` is served by the backend greeting ``name``."""
    with connect(addr, timeout=10) as sock:
        greeting = recv_line(sock)
        assert greeting == f"I am {name}\n".encode(), \
            f"{addr} reached {greeting!r}, expected backend {name}"
        sock.sendall(b"ping")
        assert recv_exact(sock, 4) == b"ping"


def after_exec(stderr):
    """The part of stderr written by znetd (after systemd-socket-activate's own lines)."""
    marker = stderr.find("Execing")
    if marker < 0:
        return stderr
    newline = stderr.find("\n", marker)
    return stderr[newline + 1:] if newline >= 0 else ""


def test_named_fds_in_opposite_order(start_znetd, backends):
    """Two named fds passed in the opposite order to the config's services.

    fd 3 is bravo's socket and fd 4 alpha's.  Each service must get the socket named
    after it (a daemon assigning fds by position would cross them), and znetd must
    use the inherited sockets instead of binding new ones.
    """
    alpha = backends.echo(greeting="I am alpha\n")
    bravo = backends.echo(greeting="I am bravo\n")
    pa, pb = free_port(), free_port()
    addr_a, addr_b = f"127.0.0.1:{pa}", f"127.0.0.1:{pb}"
    daemon = start_znetd(
        config=two_service_config(pa, pb, alpha, bravo),
        activate=[(addr_b, "bravo"), (addr_a, "alpha")],
    )
    assert_reaches(addr_a, "alpha")
    assert_reaches(addr_b, "bravo")
    assert daemon.alive(), daemon.diagnostics()

    listeners = listening_sockets(daemon.pid)
    fds = daemon.fd_targets()
    for addr, expected_fd in ((addr_b, 3), (addr_a, 4)):
        inodes = [inode for a, inode in listeners if a == addr]
        assert len(inodes) == 1, f"znetd holds {len(inodes)} listening sockets for {addr}"
        assert fds.get(expected_fd) == f"socket:[{inodes[0]}]", \
            f"{addr} is not served by the inherited fd {expected_fd}"


def test_unnamed_fds_matched_by_address(start_znetd, backends):
    """Without FileDescriptorName, fds are matched to services by bound address."""
    alpha = backends.echo(greeting="I am alpha\n")
    bravo = backends.echo(greeting="I am bravo\n")
    pa, pb = free_port(), free_port()
    addr_a, addr_b = f"127.0.0.1:{pa}", f"127.0.0.1:{pb}"
    daemon = start_znetd(
        config=two_service_config(pa, pb, alpha, bravo),
        activate=[(addr_b, None), (addr_a, None)],
    )
    assert_reaches(addr_a, "alpha")
    assert_reaches(addr_b, "bravo")
    assert daemon.alive(), daemon.diagnostics()


def test_unknown_inherited_fd_is_fatal(start_znetd, backends):
    """An inherited fd whose name and address match no service: exit non-zero,
    with a message naming that fd."""
    alpha = backends.echo(greeting="I am alpha\n")
    bravo = backends.echo(greeting="I am bravo\n")
    pa, pb, pstray = free_port(), free_port(), free_port()
    daemon = start_znetd(
        config=two_service_config(pa, pb, alpha, bravo),
        activate=[
            (f"127.0.0.1:{pa}", "alpha"),
            (f"127.0.0.1:{pb}", "bravo"),
            (f"127.0.0.1:{pstray}", "strayfd"),
        ],
    )
    status = daemon.wait_exit(10)
    assert status != 0, f"znetd accepted an unknown fd\n{daemon.diagnostics()}"
    assert "strayfd" in after_exec(daemon.stderr_text()), \
        f"the error does not name the fd 'strayfd'\n{daemon.diagnostics()}"


def test_service_without_fd_is_fatal(start_znetd, backends):
    """Under socket activation a configured service with no inherited fd: exit
    non-zero, with a message naming the service."""
    alpha = backends.echo(greeting="I am alpha\n")
    bravo = backends.echo(greeting="I am bravo\n")
    pa, pb = free_port(), free_port()
    daemon = start_znetd(
        config=two_service_config(pa, pb, alpha, bravo),
        activate=[(f"127.0.0.1:{pa}", "alpha")],
    )
    status = daemon.wait_exit(10)
    assert status != 0, f"znetd ran without a socket for bravo\n{daemon.diagnostics()}"
    assert "bravo" in after_exec(daemon.stderr_text()), \
        f"the error does not name the service 'bravo'\n{daemon.diagnostics()}"
