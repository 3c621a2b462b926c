"""The web page in headless Chromium (Debian's), driven by Playwright, against hushgate
with real SIP traffic from sipp: the provider at .2 calls through hushgate at .3 to an
ATA stand-in at .4 that answers 486 Busy Here (so a call that "rang" comes back as 486,
a blocked one as hushgate's own 603). hushgate runs as the README runs it: tools/run, the
firmware on the MicroPython unix port (HUSHGATE_HEAP sets its heap).

Set the password, log out and in, add a quiet window and a VIP number, see a call in the
log, block its number, see the next call from it blocked, and callers named like HTML
shown as text. Screenshots of the status and settings pages at desktop and phone widths
go to host_tests/artifacts/ (and are copied by hand to docs/screenshots/).
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
ARTIFACTS = os.path.join(HERE, "artifacts")
sys.path.insert(0, os.path.join(HERE, "e2e"))

from peers import Net  # noqa: E402  (the one place loopback addresses and ports come from)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "quiet nights 42"
XSS_NAME = "<script>alert(1)</script>"
XSS_ATTR = '"><img src=x onerror=alert(2)>'
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}

pytestmark = pytest.mark.browser

UAC = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="provider_call">
  <Global variables="name,from" />
  <send retrans="500">
    <![CDATA[

      INVITE sip:1001@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      Max-Forwards: 70
      From: "[$name]" <sip:[$from]@[local_ip]>;tag=[pid]hg[call_number]
      To: <sip:1001@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:[$from]@[local_ip]:[local_port]>
      User-Agent: hushgate-browser-test
      Content-Length: 0

    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="@CODE@"/>
  <send>
    <![CDATA[

      ACK sip:1001@[remote_ip]:[remote_port] SIP/2.0
      [last_Via:]
      Max-Forwards: 70
      From: "[$name]" <sip:[$from]@[local_ip]>;tag=[pid]hg[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Content-Length: 0

    ]]>
  </send>
</scenario>
"""

ATA_BUSY = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="ata_busy">
  <recv request="INVITE"/>
  <send>
    <![CDATA[

      SIP/2.0 486 Busy Here
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]ata[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
  <recv request="ACK"/>
</scenario>
"""


def need(tool_ok, what):
    if tool_ok:
        return
    if os.environ.get("CI") == "true":
        pytest.fail("%s is missing (CI=true: a missing tool is a failure)" % what)
    pytest.skip("%s is missing" % what)


def wait_port(ip, port, proc, log, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            with open(log) as f:
                raise RuntimeError("hushgate exited:\n" + f.read()[-2000:])
        try:
            with socket.create_connection((ip, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError("nothing listens on %s:%d" % (ip, port))


class Peers:
    """hushgate (tools/run) and the ATA stand-in, each in its own process group."""

    def __init__(self, folder, net):
        self.folder = folder
        self.net = net
        self.procs = []
        self.calls = 0

    def start(self, name, argv):
        out = open(os.path.join(self.folder, name + ".out"), "w")
        proc = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=ROOT,
            start_new_session=True,  # its own group: tools/run's firmware child goes too
        )
        self.procs.append(proc)
        return proc

    def stop(self):
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()  # tools/run turns this into the firmware's clean stop
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(5)

    def call(self, number, name, expect):
        """One INVITE from the provider; True when sipp got the expected final answer."""
        self.calls += 1
        net = self.net
        scenario = os.path.join(self.folder, "uac_%d.xml" % expect)
        with open(scenario, "w") as f:
            f.write(UAC.replace("@CODE@", str(expect)))
        stats = os.path.join(self.folder, "uac_%d.csv" % self.calls)
        argv = [
            shutil.which("sipp"),
            "%s:%d" % (net.hushgate, net.sip_port),
            "-sf", scenario,
            "-i", net.provider, "-p", str(net.sip_port),
            "-m", "1", "-timeout", "10", "-nostdin",
            "-set", "name", name.replace('"', '\\"'),
            "-set", "from", number,
            "-stf", stats, "-trace_stat",
        ]  # fmt: skip
        done = subprocess.run(argv, cwd=self.folder, capture_output=True, timeout=20)
        with open(stats) as f:
            last = f.read().strip().splitlines()[-1].split(";")
        with open(stats) as f:
            names = f.readline().strip().split(";")
        row = dict(zip(names, last, strict=False))
        return done.returncode == 0 and row.get("SuccessfulCall(C)") == "1"


@pytest.fixture
def peers(tmp_path):
    need(os.access(CHROMIUM, os.X_OK), CHROMIUM)
    need(shutil.which("sipp"), "sipp")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        need(False, "the playwright Python package")
    net = Net()
    p = Peers(str(tmp_path), net)
    state = tmp_path / "state"
    state.mkdir()
    ata = os.path.join(str(tmp_path), "ata.xml")
    with open(ata, "w") as f:
        f.write(ATA_BUSY)
    try:
        p.start(
            "ata",
            [shutil.which("sipp"), "-sf", ata, "-i", net.ata, "-p", str(net.sip_port),
             "-m", "20", "-nostdin", "-timeout", "120"],
        )  # fmt: skip
        # the README's run command (another launcher taking its options may stand in,
        # e.g. HUSHGATE_E2E_RUN="python host_tests/webrunner.py" on CPython)
        run = os.environ.get("HUSHGATE_E2E_RUN", os.path.join(ROOT, "tools", "run")).split()
        hushgate = p.start(
            "hushgate",
            run + ["--listen", "%s:%d" % (net.hushgate, net.sip_port),
                   "--web", "%s:%d" % (net.hushgate, net.web_port),
                   "--state", str(state),
                   "--ata", "%s:%d" % (net.ata, net.sip_port),
                   "--provider", "%s:%d" % (net.provider, net.sip_port)],
        )  # fmt: skip
        log = str(tmp_path / "hushgate.out")
        wait_port(net.hushgate, net.web_port, hushgate, log, timeout=90)  # it compiles first
        yield p
    finally:
        p.stop()


def shoot(page, name):
    os.makedirs(ARTIFACTS, exist_ok=True)
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        page.reload()
        page.screenshot(path=os.path.join(ARTIFACTS, "%s-%s.png" % (name, label)), full_page=True)
        # nothing wider than the screen: no sideways scrolling on a phone
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), label
    page.set_viewport_size(DESKTOP)


def show(pages, peers):
    """What the browser had and what hushgate said, for a failure's report."""
    for page in pages:
        try:
            print("--- %s\n%s" % (page.url, page.content()[:3000]))
        except Exception as e:
            print("--- (page unreadable: %r)" % e)
    with open(os.path.join(peers.folder, "hushgate.out")) as f:
        print("--- hushgate.out (end)\n" + f.read()[-3000:])


def test_browser_flow(peers):
    from playwright.sync_api import sync_playwright

    net = peers.net
    base = "http://%s:%d" % (net.hushgate, net.web_port)
    dialogs = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        shown = []
        try:
            page = browser.new_page(viewport=DESKTOP)
            shown.append(page)
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.set_default_timeout(10000)

            # first visit: only the set-password form
            page.goto(base + "/")
            assert page.url.endswith("/setup")
            assert page.locator("nav a").count() == 0
            page.fill("#pw", PASSWORD)
            page.fill("#pw2", PASSWORD)
            page.click("button.big")
            page.wait_for_url(base + "/")
            assert page.locator("p.mode").inner_text() == "Ringing"

            # log out and in again; a wrong password is refused
            page.click("nav button")
            page.wait_for_url(base + "/login")
            page.fill("#pw", "not the password")
            page.click("button.big")
            assert "Wrong password" in page.locator("p.err").inner_text()
            page.fill("#pw", PASSWORD)
            page.click("button.big")
            page.wait_for_url(base + "/")

            # settings: a quiet window (Saturday 03:00-04:00, not now) and a VIP
            page.click("text=Settings")
            for day in ("Sat", "Sun"):
                page.check("input[name=q0%s]" % day)
            page.fill("input[name=q0s]", "03:00")
            page.fill("input[name=q0e]", "04:00")
            page.fill("[name=vip]", "0611111111")
            page.select_option("#tzpick", label="Paris, Berlin, Madrid, Rome")
            assert page.input_value("#timezone") == "CET-1CEST,M3.5.0,M10.5.0/3"  # the JS
            page.click('form[action="/settings"] button.big')
            page.wait_for_url(base + "/settings?n=Saved.")
            assert page.is_checked("input[name=q0Sat]")
            assert page.input_value("input[name=q0s]") == "03:00"
            assert page.input_value("[name=vip]") == "0611111111"
            # a mistake keeps what was typed and saves nothing
            page.fill("[name=repeat_call_minutes]", "500")
            with page.expect_navigation():
                page.click('form[action="/settings"] button.big')
            assert "Nothing was saved" in page.content()
            assert page.input_value("[name=repeat_call_minutes]") == "500"
            assert page.locator("div.err", has_text="repeat_call_minutes").count() == 1
            shoot(page, "settings")

            # a call from the provider rings the ATA (which says busy)
            assert peers.call("0612345678", "Alice Example", 486)
            page.goto(base + "/")
            row = page.locator("table.calls tbody tr", has_text="0612345678")
            assert row.count() == 1 and "rang" in row.inner_text()

            # block this number; the next call from it is turned away by hushgate
            row.locator("button[name=block]").click()
            page.wait_for_url("**/?n=*")
            assert "0612345678 is blocked." in page.locator("p.ok").inner_text()
            assert peers.call("0612345678", "Alice Example", 603)
            page.reload()
            newest = page.locator("table.calls tbody tr").first
            assert "0612345678" in newest.inner_text() and "blocked (603)" in newest.inner_text()

            # callers named like HTML are shown as text, and nothing runs
            assert peers.call("0622222222", XSS_NAME, 486)
            assert peers.call("0633333333", XSS_ATTR, 486)
            page.reload()
            assert page.locator("td", has_text=XSS_NAME).count() == 1
            assert page.locator("td", has_text=XSS_ATTR).count() == 1
            assert page.locator("img").count() == 0 and page.locator("main script").count() == 0
            page.wait_for_timeout(300)
            assert dialogs == []
            shoot(page, "status")

            # without JavaScript: the zone list still sets the time zone (on the server)
            plain = browser.new_context(java_script_enabled=False, viewport=PHONE).new_page()
            shown.append(plain)
            plain.set_default_timeout(10000)
            plain.goto(base + "/login")
            plain.fill("#pw", PASSWORD)
            with plain.expect_navigation():
                plain.click("button.big")
            plain.goto(base + "/settings")
            plain.select_option("#tzpick", label="US Eastern")
            assert plain.input_value("#timezone") == "CET-1CEST,M3.5.0,M10.5.0/3"  # no JS ran
            with plain.expect_navigation():
                plain.click('form[action="/settings"] button.big')
            assert plain.input_value("#timezone") == "EST5EDT,M3.2.0,M11.1.0"
            plain.goto(base + "/")
            with plain.expect_navigation():
                plain.click("button[value=on]")
            assert "Quiet (button)" in plain.locator("p.mode").inner_text()
        except Exception:
            show(shown, peers)
            raise
        finally:
            browser.close()
