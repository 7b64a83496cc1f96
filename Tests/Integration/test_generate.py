"""``znetd generate`` (static units) and what the generated units rely on: ``run --service``
leaves out a broken file of another service instead of failing."""

import signal
import socket
import subprocess

from conftest import dedent, echo_round_trip, free_port, wait_until


def write_tree(root, files):
    """Writes {relative path: YAML text} under root; returns root."""
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dedent(text))
    return root


def unit_text(directory, name):
    return (directory / name).read_text()


def test_generate_writes_units_for_a_config_directory(run_cli, tmp_path, znetd_bin):
    config = write_tree(tmp_path / "conf", {
        "znetd.yaml": """
            services:
              web:
                listen: ":8080"
                target: "127.0.0.1:9090"
            """,
        "conf.d/api.yaml": """
            services:
              api:
                listen: "127.0.0.1:8443"
                target: "127.0.0.1:9443"
            """,
    })
    out = tmp_path / "units"
    result = run_cli("generate", "--config", str(config), "--output", str(out),
                     "--znetd-path", str(znetd_bin))
    assert result.returncode == 0, result.stderr
    names = sorted(p.name for p in out.iterdir())
    assert names == ["sockets.target.wants", "znetd-api.service", "znetd-api.socket",
                     "znetd-web.service", "znetd-web.socket"]
    # It prints what it wrote, one path a line.
    assert sorted(result.stdout.split()) == sorted(str(out / n) for n in names[1:])
    assert sorted(p.name for p in (out / "sockets.target.wants").iterdir()) == \
        ["znetd-api.socket", "znetd-web.socket"]
    web = unit_text(out, "znetd-web.service")
    assert f"ExecStart={znetd_bin} run --config {config} --service web\n" in web
    assert f"SourcePath={config}/znetd.yaml\n" in web
    api_socket = unit_text(out, "znetd-api.socket")
    assert "ListenStream=127.0.0.1:8443\n" in api_socket
    assert "FileDescriptorName=api\n" in api_socket
    assert f"SourcePath={config}/conf.d/api.yaml\n" in api_socket

    # The units are valid for systemd (man pages are not installed here).
    verify = subprocess.run(["systemd-analyze", "verify", "--man=no",
                             *(str(out / n) for n in names[1:])],
                            capture_output=True, text=True, timeout=60)
    assert verify.returncode == 0, verify.stderr


def test_generate_shared_layout_and_options(run_cli, tmp_path, write_file):
    config = write_file("relative/znetd.yaml", """
        services:
          a:
            listen: ":7001"
            target: "127.0.0.1:9001"
          b:
            listen: ":7002"
            target: "127.0.0.1:9002"
        """)
    out = tmp_path / "shared"
    # A relative --config is made absolute: units run from /.
    result = run_cli("generate", "--config", "relative/znetd.yaml", "--output", str(out),
                     "--shared", "--znetd-path", "/opt/znetd/bin/znetd")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == \
        ["sockets.target.wants", "znetd-a.socket", "znetd-b.socket", "znetd.service"]
    service = unit_text(out, "znetd.service")
    assert (f"ExecStart=/opt/znetd/bin/znetd run --config {config} --service a --service b\n"
            in service), service
    assert "Service=znetd.service\n" in unit_text(out, "znetd-a.socket")


def test_generate_refuses_a_broken_config(run_cli, tmp_path, write_file):
    config = write_file("bad.yaml", """
        services:
          web:
            listen: ":8080"
            target: "127.0.0.1:99999"
        """)
    out = tmp_path / "none"
    result = run_cli("generate", "--config", str(config), "--output", str(out))
    assert result.returncode == 1
    assert f"{config}:4:13: services.web.target:" in result.stderr, result.stderr
    assert not out.exists(), "units were written for a broken configuration"


def test_generate_reports_an_unwritable_output(run_cli, write_file, tmp_path):
    config = write_file("ok.yaml", """
        services:
          web:
            listen: ":8080"
            target: "127.0.0.1:9090"
        """)
    blocker = write_file("file", "not a directory\n")
    result = run_cli("generate", "--config", str(config), "--output", str(blocker))
    assert result.returncode == 1
    assert "cannot write units" in result.stderr or "cannot create" in result.stderr, \
        result.stderr


def test_run_service_leaves_out_another_services_broken_file(start_znetd, backends, tmp_path):
    """The generated unit of ``web`` runs ``znetd run --service web``: a typo in api's file
    must not stop web, at start or at reload; it is logged as a warning."""
    echo = backends.echo()
    listen = f"127.0.0.1:{free_port()}"
    config = write_tree(tmp_path / "etc", {
        "znetd.yaml": f"""
            services:
              web:
                listen: "{listen}"
                target: "{echo.addr}"
            """,
        "conf.d/api.yaml": """
            services:
              api:
                listen: "127.0.0.1:1"
                target: "nowhere"
            """,
    })
    daemon = start_znetd(args=["--config", str(config), "--service", "web"], ready=[listen])
    assert echo_round_trip(listen, b"web still serves")
    wait_until(lambda: "conf.d/api.yaml: has errors; its services are left out"
               in daemon.stderr_text(), 5, message="the warning about api.yaml")
    assert "services.api.target" in daemon.stderr_text()

    # A reload with the broken file still present applies web's change.
    echo2 = backends.echo(greeting=b"second\n")
    (config / "znetd.yaml").write_text(dedent(f"""
        services:
          web:
            listen: "{listen}"
            target: "{echo2.addr}"
        """))
    daemon.signal(signal.SIGHUP)

    def reaches_second():
        # Before the reload applies, the first backend answers nothing: a timeout, not a
        # failure.
        try:
            with socket.create_connection(("127.0.0.1", int(listen.rsplit(":", 1)[1])), 2) as s:
                s.settimeout(0.5)
                return s.recv(7) == b"second\n"
        except OSError:
            return False

    wait_until(reaches_second, 5, message="the reload to switch web to the second backend")


def test_run_service_defined_in_a_broken_file_fails_with_its_errors(run_cli, tmp_path):
    config = write_tree(tmp_path / "etc", {
        "znetd.yaml": """
            services:
              web:
                listen: "127.0.0.1:8080"
                target: "127.0.0.1:9090"
            """,
        "conf.d/api.yaml": """
            services:
              api:
                listen: "127.0.0.1:8081"
                target: "nowhere"
            """,
    })
    result = run_cli("check", "--config", str(config), "--service", "api")
    assert result.returncode == 1
    assert f"{config}/conf.d/api.yaml:4:13: services.api.target:" in result.stderr, result.stderr
