"""target: exec:/path: a program chooses each connection's destination (as ynetd's)."""

import re

from balancing import NamedBackend, who
from conftest import connect, free_port


def test_program_output_is_the_destination(start_znetd, tmp_path):
    """The program gets client and local address (arguments and environment) and prints
    host:port; the client reaches that backend."""
    backend = NamedBackend("chosen")
    seen = tmp_path / "seen"
    script = tmp_path / "route"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$1 $2 $ZNETD_CLIENT_ADDRESS $ZNETD_LOCAL_ADDRESS $ZNETD_SERVICE" >> {seen}\n'
        f'echo "{backend.addr}"\n'
    )
    script.chmod(0o755)
    try:
        listen = f"127.0.0.1:{free_port()}"
        start_znetd(
            config=f"""
            services:
              dyn:
                listen: "{listen}"
                target: "exec:{script}"
            """,
            ready=[listen],
        )
        with connect(listen) as sock:
            assert sock.recv(100) == b"chosen\n"
            client = "%s:%d" % sock.getsockname()
            sock.sendall(b"round trip")
            assert sock.recv(100) == b"round trip"
        assert seen.read_text().split() == [client, listen, client, listen, "dyn"]
    finally:
        backend.stop()


def test_failing_program_drops_the_client_and_its_stderr_is_logged(start_znetd, tmp_path):
    script = tmp_path / "route"
    script.write_text("#!/bin/sh\necho 'no route for this client' >&2\nexit 3\n")
    script.chmod(0o755)
    bad = tmp_path / "bad"
    bad.write_text("#!/bin/sh\necho 'not an address'\n")
    bad.chmod(0o755)
    listen, listen2 = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    daemon = start_znetd(
        config=f"""
        services:
          dyn:
            listen: "{listen}"
            target: "exec:{script} --strict"
          odd:
            listen: "{listen2}"
            target: "exec:{bad}"
        """,
        ready=[listen, listen2],
    )
    assert who(listen) == ""
    daemon.wait_stderr(re.escape(f"destination program {script} exited with status 3; its stderr: no route for this client"),
                       timeout=5)
    assert who(listen2) == ""
    daemon.wait_stderr(re.escape(f"destination program {bad} printed 'not an address'"), timeout=5)
    assert daemon.alive()
