"""The command line: ``znetd check``, ``znetd version`` and ``run`` on a bad config."""

import os
import re
import time

import pytest

from conftest import free_port, is_listening

#: One diagnostic: FILE:LINE:COL: KEYPATH: MESSAGE
DIAGNOSTIC = re.compile(
    r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): (?P<path>[^:\s]+): (?P<msg>.*)$", re.M
)


def diagnostics(stderr):
    return [m.groupdict() for m in DIAGNOSTIC.finditer(stderr)]


def same_file(reported, expected):
    """A reported FILE names the config file (as given, or any path to it)."""
    try:
        return os.path.samefile(reported, expected)
    except OSError:
        return False


def find_diagnostic(result, path, key_pattern):
    """The diagnostic whose key path matches ``key_pattern`` (a regex)."""
    found = [d for d in diagnostics(result.stderr) if re.search(key_pattern, d["path"])]
    assert found, (
        f"no FILE:LINE:COL: KEYPATH: MESSAGE line with key path /{key_pattern}/ in stderr:\n"
        f"{result.stderr}"
    )
    d = found[0]
    assert same_file(d["file"], path), f"diagnostic names {d['file']!r}, not {path}"
    return d


def valid_config(b_port):
    p1, p2, p3 = free_port(), free_port(), free_port("::1")
    return f"""
    threads: 2
    drain_timeout: 1m30s
    pipe_size: 1MiB
    unit_layout: per-service
    defaults:
      connect_timeout: 2s
    services:
      web:
        listen: "127.0.0.1:{p1}"
        target: "127.0.0.1:{b_port}"
        connect_timeout: 500ms
        idle_timeout: 10m
        max_connections: 100
        keepalive: true
        log_connections: true
      db:
        listen: [":{p2}", "[::1]:{p3}"]
        target: "unix:/run/znetd-example/db.sock"
    """


def test_check_valid_config_prints_normalised_config(run_cli, write_file):
    """A valid config: exit 0 and the normalised config on stdout (naming both
    services and their targets), nothing alarming on stderr."""
    path = write_file("znetd.yaml", valid_config(9090))
    result = run_cli("check", "--config", path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "services" in out and "web" in out and "db" in out, out
    assert "127.0.0.1:9090" in out and "db.sock" in out, out
    assert not diagnostics(result.stderr), result.stderr


def test_check_output_is_a_fixed_point(run_cli, write_file, tmp_path):
    """The normalised config is itself a valid config that normalises to itself."""
    first = run_cli("check", "--config", write_file("znetd.yaml", valid_config(9090)))
    assert first.returncode == 0, first.stderr
    again_path = tmp_path / "normalised.yaml"
    again_path.write_text(first.stdout)
    second = run_cli("check", "--config", again_path)
    assert second.returncode == 0, f"normalised output rejected:\n{second.stderr}\n{first.stdout}"
    assert second.stdout == first.stdout


def test_check_proxy_flag(run_cli):
    """``check --proxy "LISTEN TARGET"`` validates a config given on the command line."""
    result = run_cli("check", "--proxy", f"127.0.0.1:{free_port()} 127.0.0.1:9")
    assert result.returncode == 0, result.stderr
    assert "127.0.0.1:9" in result.stdout
    bad = run_cli("check", "--proxy", "no-port-here")
    assert 0 < bad.returncode < 128, bad.stdout + bad.stderr
    assert bad.stderr.strip()


ERROR_CASES = {
    # name: (config, line, allowed columns, key path regex, message regex)
    "typo": (
        """
        services:
          web:
            listen: "127.0.0.1:18080"
            target: "127.0.0.1:19090"
            conect_timeout: 2s
        """,
        5, {5}, r"^services\W+web\W+conect_timeout$",
        r"did you mean.*connect_timeout",
    ),
    "bad duration": (
        """
        services:
          web:
            listen: "127.0.0.1:18080"
            target: "127.0.0.1:19090"
            idle_timeout: 10 parsecs
        """,
        5, {5, 19}, r"^services\W+web\W+idle_timeout$",
        r"duration",
    ),
    "duplicate listen": (
        """
        services:
          web:
            listen: "127.0.0.1:18080"
            target: "127.0.0.1:19090"
          api:
            listen: "127.0.0.1:18080"
            target: "127.0.0.1:19091"
        """,
        6, {5, 13}, r"^services\W+api\W+listen",
        r"duplicate|already|also|web",
    ),
}


@pytest.mark.parametrize("case", list(ERROR_CASES))
def test_check_reports_error_with_location(run_cli, write_file, case):
    """An invalid config: exit 1, and stderr has ``FILE:LINE:COL: KEYPATH: MESSAGE``
    pointing at the offending line, with a did-you-mean hint for a misspelt key."""
    text, line, columns, key, message = ERROR_CASES[case]
    path = write_file("znetd.yaml", text)
    result = run_cli("check", "--config", path)
    assert result.returncode == 1, f"exit {result.returncode}\n{result.stdout}{result.stderr}"
    d = find_diagnostic(result, path, key)
    assert int(d["line"]) == line, f"reported line {d['line']}, expected {line}: {d}"
    assert int(d["col"]) in columns, f"reported column {d['col']}, expected {columns}: {d}"
    assert re.search(message, d["msg"], re.I), f"message lacks /{message}/: {d['msg']!r}"


def test_check_reports_every_error(run_cli, write_file):
    """A config with three errors gets three diagnostics in one run, not just the first."""
    path = write_file("znetd.yaml", """
    services:
      web:
        listen: "127.0.0.1:18080"
        target: "127.0.0.1:19090"
        conect_timeout: 2s
      api:
        listen: "127.0.0.1:18080"
        target: "127.0.0.1:19091"
        idle_timeout: 10 parsecs
    """)
    result = run_cli("check", "--config", path)
    assert result.returncode == 1
    find_diagnostic(result, path, r"conect_timeout")
    find_diagnostic(result, path, r"idle_timeout")
    find_diagnostic(result, path, r"^services\W+api\W+listen")


def test_config_directory_with_conf_d(run_cli, write_file, tmp_path):
    """``--config DIR`` reads DIR/znetd.yaml plus DIR/conf.d/*.yaml; an error in a
    conf.d file is reported against that file."""
    write_file("etc/znetd.yaml", """
    drain_timeout: 5s
    services:
      main:
        listen: "127.0.0.1:18081"
        target: "127.0.0.1:19091"
    """)
    write_file("etc/conf.d/10-extra.yaml", """
    services:
      extra:
        listen: "127.0.0.1:18082"
        target: "127.0.0.1:19092"
    """)
    result = run_cli("check", "--config", tmp_path / "etc")
    assert result.returncode == 0, result.stderr
    assert "main" in result.stdout and "extra" in result.stdout, result.stdout

    bad = write_file("etc/conf.d/20-bad.yaml", """
    services:
      broken:
        listen: "127.0.0.1:18083"
        target: "127.0.0.1:19093"
        conect_timeout: 1s
    """)
    result = run_cli("check", "--config", tmp_path / "etc")
    assert result.returncode == 1
    d = find_diagnostic(result, bad, r"conect_timeout")
    assert int(d["line"]) == 5


def test_run_bad_config_exits_without_listening(start_znetd, backends):
    """``znetd run`` on an invalid config exits non-zero with a located error and
    never listens on any of the config's ports (not even the valid service's)."""
    echo = backends.echo()
    p_ok, p_bad = free_port(), free_port()
    daemon = start_znetd(
        config=f"""
        services:
          fine:
            listen: "127.0.0.1:{p_ok}"
            target: "{echo.addr}"
          broken:
            listen: "127.0.0.1:{p_bad}"
            target: "{echo.addr}"
            conect_timeout: 1s
        """,
        notify=False,
    )
    listened = set()
    deadline = time.monotonic() + 10
    while daemon.alive() and time.monotonic() < deadline:
        for port in (p_ok, p_bad):
            try:
                if is_listening(daemon.pid, f"127.0.0.1:{port}"):
                    listened.add(port)
            except OSError:
                pass
        time.sleep(0.005)
    status = daemon.wait_exit(1)
    assert status != 0, f"znetd ran a bad config\n{daemon.diagnostics()}"
    assert not listened, f"znetd listened on {listened} before rejecting the config"
    name = re.escape(daemon.config_path.name)
    assert re.search(rf"{name}:8:\d+:", daemon.stderr_text()), daemon.diagnostics()
    assert echo.accepted == 0


def test_version(run_cli):
    """``znetd version`` and ``znetd --version`` both print the version and exit 0."""
    a = run_cli("version")
    b = run_cli("--version")
    assert a.returncode == 0 and b.returncode == 0, a.stderr + b.stderr
    versions = [re.search(r"\d+\.\d+\S*", r.stdout) for r in (a, b)]
    assert all(versions), f"no version number in {a.stdout!r} / {b.stdout!r}"
    assert versions[0].group(0) == versions[1].group(0), (a.stdout, b.stdout)
