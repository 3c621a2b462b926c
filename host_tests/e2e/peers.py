"""The real SIP peers of the end-to-end tests, each a small wrapper around a process.

Every address and port comes from `Net` (one place, overridable from the environment), all
on loopback. Every process is started in its own session, writes its output to a file in
the test's folder, and is stopped (TERM, then KILL) by `Procs.stop_all()` even when a test
fails. The wrappers read what arrived from the peers' own records: Kamailio's xlog lines,
baresip's SIP trace and control events, sipp's statistics CSV and message log.
"""

import csv
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SCENARIOS = os.path.join(HERE, "scenarios")
VENV_BIN = os.path.join(ROOT, ".venv", "bin")


def _env_int(name, default):
    return int(os.environ.get(name, str(default)))


class Net:
    """Who is where. `HUSHGATE_E2E_NET` (default `127.0.0`) is the /24 on loopback; the
    last octets and the ports below can be overridden too, so two runs on one machine
    can be kept apart."""

    def __init__(self, environ=None):
        env = os.environ if environ is None else environ
        prefix = env.get("HUSHGATE_E2E_NET", "127.0.0")
        if not prefix.startswith("127.") or prefix.count(".") != 2:
            raise ValueError("HUSHGATE_E2E_NET must be a loopback /24 prefix like 127.0.0")
        self.prefix = prefix
        self.provider = prefix + ".2"
        self.hushgate = prefix + ".3"
        self.ata = prefix + ".4"
        self.scanner = prefix + ".5"
        self.caller = prefix + ".6"
        self.sip_port = int(env.get("HUSHGATE_E2E_SIP_PORT", "5060"))
        self.web_port = int(env.get("HUSHGATE_E2E_WEB_PORT", "8080"))
        # baresip's control socket, on the ATA's (or caller's) own address
        self.ctrl_port = int(env.get("HUSHGATE_E2E_CTRL_PORT", "4444"))
        # where the caller's SDP sends the voice (a socket of the test counts it)
        self.media_port = int(env.get("HUSHGATE_E2E_MEDIA_PORT", "6000"))
        self.scanner_port = int(env.get("HUSHGATE_E2E_SCANNER_PORT", "5070"))
        # the account numbers at the provider
        self.ata_user = env.get("HUSHGATE_E2E_ATA_USER", "1001")
        self.caller_user = env.get("HUSHGATE_E2E_CALLER_USER", "0612345678")

    def flood_sources(self, count):
        """Distinct scanner addresses for a flood from many sources (.100 up)."""
        if count > 150:
            raise ValueError("at most 150 flood sources fit in the /24")
        return ["%s.%d" % (self.prefix, 100 + i) for i in range(count)]


def which(tool):
    """Path of a tool, looking in the project's .venv first."""
    candidate = os.path.join(VENV_BIN, tool)
    if os.access(candidate, os.X_OK):
        return candidate
    return shutil.which(tool)


def wait_for(predicate, timeout, interval=0.05, what="condition"):
    """Poll until predicate() is truthy; return its value, or raise TimeoutError."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError("timed out after %.1f s waiting for %s" % (timeout, what))
        time.sleep(interval)


def _hex_addr(ip, port):
    packed = socket.inet_aton(ip)
    return "%08X:%04X" % (int.from_bytes(packed, "little"), port)


def udp_bound(ip, port, wildcard=True):
    """True when some process has a UDP socket bound to ip:port (or, with `wildcard`,
    to 0.0.0.0:port)."""
    wanted = (_hex_addr(ip, port), _hex_addr("0.0.0.0", port) if wildcard else "-")
    try:
        with open("/proc/net/udp") as f:
            next(f)
            for line in f:
                if line.split()[1] in wanted:
                    return True
    except OSError:
        return False
    return False


def free_udp_port(ip):
    """A UDP port nobody holds on ip (nor on 0.0.0.0), for sipp's control and media
    sockets: other programs on the machine may hold sipp's defaults."""
    for _ in range(20):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind((ip, 0))
            port = sock.getsockname()[1]
        finally:
            sock.close()
        if not udp_bound("0.0.0.0", port):
            return port
    raise RuntimeError("no free UDP port on " + ip)


def require_free(ip, port, who):
    """Fail clearly when a stray process already holds a peer's address: Kamailio and
    baresip bind with SO_REUSEADDR, so a leftover would silently share the traffic."""
    # a socket on 0.0.0.0 would not get this address's datagrams: only an exact match
    if udp_bound(ip, port, wildcard=False):
        raise RuntimeError(
            "%s: UDP %s:%d is already bound by another process (a leftover run?); "
            "stop it or set HUSHGATE_E2E_NET to another prefix" % (who, ip, port)
        )


def tcp_listening(ip, port):
    try:
        with socket.create_connection((ip, port), timeout=0.2):
            return True
    except OSError:
        return False


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class Proc:
    """One child process with its output in files; stop() always ends it."""

    def __init__(self, name, argv, folder, cwd=None, env=None, stdin=None):
        self.name = name
        self.argv = argv
        self.out_path = os.path.join(folder, name + ".out")
        self.err_path = os.path.join(folder, name + ".err")
        out = open(self.out_path, "wb")
        err = open(self.err_path, "wb")
        try:
            self.popen = subprocess.Popen(
                argv,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL if stdin is None else stdin,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
        finally:
            out.close()
            err.close()

    @property
    def pid(self):
        return self.popen.pid

    def running(self):
        return self.popen.poll() is None

    def signal(self, sig):
        if self.running():
            try:
                os.killpg(self.popen.pid, sig)
            except ProcessLookupError:
                pass

    def stop(self, timeout=5.0, leader_only=False):
        """TERM the process group (or only its leader), KILL the group after `timeout`;
        returns the exit code."""
        if self.running():
            if leader_only:
                try:
                    os.kill(self.popen.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
            else:
                self.signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                self.popen.wait(5)
        if self.popen.stdin is not None:
            try:
                self.popen.stdin.close()
            except OSError:
                pass
        # children that outlived the leader
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        return self.popen.returncode

    def kill(self):
        """SIGKILL to the whole group: a power cut."""
        self.signal(signal.SIGKILL)
        self.popen.wait(5)

    def wait(self, timeout):
        return self.popen.wait(timeout)

    def out(self):
        with open(self.out_path, "rb") as f:
            return _ANSI.sub("", f.read().decode("utf-8", "replace"))

    def err(self):
        with open(self.err_path, "rb") as f:
            return f.read().decode("utf-8", "replace")


class Procs:
    """Everything a test started; conftest stops all of it at teardown."""

    def __init__(self, folder):
        self.folder = folder
        self.started = []

    def start(self, name, argv, **kwargs):
        proc = Proc(name, argv, self.folder, **kwargs)
        self.started.append(proc)
        return proc

    def stop_all(self):
        for proc in reversed(self.started):
            proc.stop(leader_only=getattr(proc, "clean_stop", False))


def wait_registered(provider, ata, timeout=10.0, since_count=0):
    """Wait until the provider saved the ATA's binding and baresip saw the 200 OK."""
    wait_for(
        lambda: (
            len(provider.lines("SAVED sip:" + ata.user + "@")) > since_count
            and ata.register_ok_count() > since_count
        ),
        timeout,
        what="the ATA's registration at the provider",
    )


def call_keys(net, sink, number=None, name="Alice Caller"):
    """The -key values of the caller scenarios."""
    return {
        "from": number or net.caller_user,
        "name": name,
        "rtp_port": net.media_port,
    }


# --- Kamailio: the provider -------------------------------------------------------------


class Kamailio:
    """A registrar and proxy at net.provider; its log has one `E2E ...` line per message."""

    start_timeout = 10.0

    def __init__(self, procs, net, folder):
        self.net = net
        require_free(net.provider, net.sip_port, "kamailio")
        self.folder = os.path.join(folder, "kamailio")
        os.makedirs(self.folder, exist_ok=True)
        with open(os.path.join(HERE, "kamailio.cfg")) as f:
            cfg = f.read()
        cfg = cfg.replace("@PROVIDER_IP@", net.provider)
        cfg = cfg.replace("@PROVIDER_PORT@", str(net.sip_port))
        self.cfg = os.path.join(self.folder, "kamailio.cfg")
        with open(self.cfg, "w") as f:
            f.write(cfg)
        argv = [which("kamailio"), "-DD", "-E", "-f", self.cfg, "-Y", self.folder]
        argv += ["-m", "64", "-M", "8"]
        self.proc = procs.start("kamailio", argv)
        wait_for(
            lambda: udp_bound(net.provider, net.sip_port, False) or not self.proc.running(),
            self.start_timeout,
            what="kamailio to listen",
        )
        if not self.proc.running():
            raise RuntimeError("kamailio did not start:\n" + self.proc.err()[-2000:])

    def lines(self, kind=None):
        """The E2E log lines, e.g. kind="REQ INVITE", "SAVED", "REPLY 200"."""
        found = []
        for line in self.proc.err().splitlines():
            at = line.find("E2E ")
            if at < 0:
                continue
            entry = line[at + 4 :]
            if kind is None or entry.startswith(kind):
                found.append(entry)
        return found

    def requests(self, method, src=None):
        found = self.lines("REQ " + method + " ")
        if src is not None:
            found = [x for x in found if (" src=" + src + ":") in x]
        return found


def field(line, key):
    """The value of `key=value` in a log line (value up to the next space)."""
    at = line.find(" " + key + "=")
    if at < 0:
        return None
    rest = line[at + len(key) + 2 :]
    end = rest.find(" ")
    return rest if end < 0 else rest[:end]


# --- baresip: the ATA (and a second caller) ---------------------------------------------


class Baresip:
    """A baresip user agent at `ip`, account `user@provider`, optional outbound proxy.

    Control through ctrl_tcp (netstring-framed JSON): commands `dial`, `hangup`,
    `listcalls`, `answermode`; the events it sends (CALL_INCOMING, CALL_RINGING,
    CALL_ESTABLISHED, CALL_CLOSED, REGISTER_OK, ...) are collected by a reader thread.
    With `-s` it also prints every SIP message it sends and receives, which
    `sip_received()` reads back: the ATA's own record of what reached it.
    """

    start_timeout = 10.0

    def __init__(
        self, procs, net, folder, name, ip, user, outbound=None, answermode="auto", regint=60
    ):
        self.net = net
        require_free(ip, net.sip_port, name)
        self.ip = ip
        self.user = user
        self.folder = os.path.join(folder, name)
        os.makedirs(self.folder, exist_ok=True)
        self.aor = "sip:%s@%s" % (user, net.provider)
        if net.sip_port != 5060:
            self.aor += ":%d" % net.sip_port
        self._write_config(outbound, answermode, regint)
        self.events = []
        self._responses = {}
        self._lock = threading.Lock()
        self._token = 0
        self._sock = None
        argv = [which("baresip"), "-f", self.folder, "-s"]
        self.proc = procs.start(name, argv)
        wait_for(
            lambda: tcp_listening(ip, net.ctrl_port) or not self.proc.running(),
            self.start_timeout,
            what="baresip control socket",
        )
        if not self.proc.running():
            raise RuntimeError("baresip did not start:\n" + self.proc.out()[-2000:])
        self._sock = socket.create_connection((ip, net.ctrl_port), timeout=2)
        self._sock.settimeout(0.2)
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()

    def _write_config(self, outbound, answermode, regint):
        net = self.net
        lines = [
            ("poll_method", "epoll"),
            ("sip_listen", "%s:%d" % (self.ip, net.sip_port)),
            ("net_interface", self.ip),
            ("call_local_timeout", "120"),
            ("call_max_calls", "4"),
            ("audio_player", "aubridge,nil"),
            ("audio_alert", "aubridge,nil"),
            ("audio_source", "ausine,440"),
            ("ausrc_srate", "48000"),
            ("auplay_srate", "48000"),
            ("ausrc_channels", "2"),
            ("auplay_channels", "2"),
            ("rtp_ports", "10000-10100"),
            ("module_path", "/usr/lib/baresip/modules"),
            ("module", "g711.so"),
            ("module", "ausine.so"),
            ("module", "aubridge.so"),
            ("module", "account.so"),
            ("module_app", "menu.so"),
            ("module_app", "ctrl_tcp.so"),
            ("ctrl_tcp_listen", "%s:%d" % (self.ip, net.ctrl_port)),
        ]
        with open(os.path.join(self.folder, "config"), "w") as f:
            for key, value in lines:
                f.write("%-20s %s\n" % (key, value))
        account = "<%s>;regint=%d;answermode=%s" % (self.aor, regint, answermode)
        if outbound:
            account += ';outbound="sip:%s;lr"' % outbound
        with open(os.path.join(self.folder, "accounts"), "w") as f:
            f.write(account + "\n")
        # baresip creates these when missing; empty ones keep it from writing defaults
        for extra in ("contacts", "uuid"):
            open(os.path.join(self.folder, extra), "a").close()

    def _read_loop(self):
        buf = b""
        while self._sock is not None:
            try:
                chunk = self._sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            if not chunk:
                return
            buf += chunk
            while True:
                colon = buf.find(b":")
                if colon < 0:
                    break
                size = int(buf[:colon])
                if len(buf) < colon + 1 + size + 1:
                    break
                payload = buf[colon + 1 : colon + 1 + size]
                buf = buf[colon + 2 + size :]
                try:
                    message = json.loads(payload)
                except ValueError:
                    continue
                with self._lock:
                    if message.get("event"):
                        message["at"] = time.monotonic()
                        self.events.append(message)
                    elif message.get("response"):
                        self._responses[message.get("token")] = message

    def command(self, command, params=None, timeout=5.0):
        """Send one control command; returns its response dict."""
        with self._lock:
            self._token += 1
            token = "t%d" % self._token
        request = {"command": command, "token": token}
        if params is not None:
            request["params"] = params
        data = json.dumps(request).encode()
        self._sock.sendall(b"%d:%s," % (len(data), data))
        return wait_for(
            lambda: self._responses.get(token), timeout, what="baresip answer to " + command
        )

    def dial(self, uri):
        return self.command("dial", uri)

    def hangup(self):
        return self.command("hangup")

    def accept(self):
        return self.command("accept")

    def listcalls(self):
        return self.command("listcalls")["data"]

    def set_answermode(self, mode):
        return self.command("answermode", mode)

    def event_types(self, since=0.0):
        with self._lock:
            return [e.get("type") for e in self.events if e["at"] >= since]

    def wait_event(self, kind, timeout, since=0.0):
        """The first event of type `kind` at or after `since` (time.monotonic())."""

        def find():
            with self._lock:
                for e in self.events:
                    if e.get("type") == kind and e["at"] >= since:
                        return e
            return None

        return wait_for(find, timeout, what="baresip event " + kind)

    def sip_trace(self):
        """Every SIP message in baresip's trace: (source, destination, lines)."""
        found = []
        current = None
        for line in self.proc.out().splitlines():
            if line == "#":
                current = []
                continue
            if current is None:
                continue
            if not current:
                parts = line.split()
                if len(parts) == 4 and parts[2] == "->":
                    current.append(parts)
                    continue
                current = None
                continue
            if line.strip() == "" and len(current) > 1:
                parts = current[0]
                found.append((parts[1], parts[3], current[1:]))
                current = None
                continue
            current.append(line.rstrip("\r"))
        return found

    def sip_received(self):
        """The SIP messages that reached this user agent: (source, first line)."""
        me = "%s:%d" % (self.ip, self.net.sip_port)
        return [(src, lines[0]) for src, dst, lines in self.sip_trace() if dst == me]

    def register_ok_count(self):
        """The 200 answers to this user agent's REGISTERs (not to its un-REGISTER)."""
        me = "%s:%d" % (self.ip, self.net.sip_port)
        count = 0
        for _, dst, lines in self.sip_trace():
            if dst != me or not lines[0].startswith("SIP/2.0 200"):
                continue
            headers = [x.lower() for x in lines[1:]]
            if any(x.startswith("cseq:") and x.endswith(" register") for x in headers):
                if any(x.startswith(("contact:", "m:")) for x in headers):
                    count += 1
        return count

    def close(self):
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()


# --- sipp: callers, answerers, floods ---------------------------------------------------


class SippResult:
    def __init__(self, returncode, stats, messages, name):
        self.returncode = returncode
        self.stats = stats
        self.messages = messages
        self.name = name

    def count(self, key):
        return int(self.stats.get(key, "0") or 0)

    @property
    def successful(self):
        return self.count("SuccessfulCall(C)")

    @property
    def failed(self):
        return self.count("FailedCall(C)")

    def received(self):
        """First lines of the SIP messages sipp received, in order."""
        return [first for direction, first in self.messages if direction == "received"]

    def __repr__(self):
        keys = ("SuccessfulCall(C)", "FailedCall(C)", "OutgoingCall(C)", "IncomingCall(C)")
        shown = ", ".join("%s=%s" % (k, self.stats.get(k)) for k in keys)
        return "<sipp %s rc=%s %s received=%r>" % (
            self.name,
            self.returncode,
            shown,
            self.received()[:6],
        )


def read_stat_csv(path):
    """The last row of sipp's -trace_stat CSV, as a dict (empty when there is none)."""
    try:
        with open(path, newline="") as f:
            rows = list(csv.reader(f, delimiter=";"))
    except FileNotFoundError:
        return {}
    if len(rows) < 2:
        return {}
    return dict(zip(rows[0], rows[-1], strict=False))


def read_message_log(path):
    """sipp's -trace_msg file as [(direction, first line)]."""
    found = []
    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return found
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if "message received" in line or "message sent" in line:
            direction = "received" if "received" in line else "sent"
            for follow in lines[i + 1 : i + 4]:
                if follow.strip():
                    found.append((direction, follow.strip()))
                    break
    return found


def scenario(name, folder, **subst):
    """Path of a scenario XML; `@KEY@` placeholders filled in from subst into a copy."""
    path = os.path.join(SCENARIOS, name + ".xml")
    if not subst:
        return path
    with open(path) as f:
        text = f.read()
    for key, value in subst.items():
        text = text.replace("@%s@" % key.upper(), str(value))
    suffix = "-".join(str(v) for v in subst.values())
    copy = os.path.join(folder, "%s-%s.xml" % (name, suffix))
    with open(copy, "w") as f:
        f.write(text)
    return copy


class Sipp:
    """Runs sipp scenarios from one local address; each run gets its own files."""

    def __init__(self, procs, net, folder, ip, port=None, name="sipp"):
        self.procs = procs
        self.net = net
        self.ip = ip
        self.port = net.sip_port if port is None else port
        self.name = name
        self.folder = folder
        self.runs = 0

    def _argv(self, scenario_path, remote, calls, keys, extra, run, trace=True):
        base = os.path.join(self.folder, run)
        argv = [which("sipp"), remote, "-sf", scenario_path, "-i", self.ip]
        argv += ["-p", str(self.port), "-m", str(calls), "-nostdin"]
        argv += ["-ci", self.ip, "-cp", str(free_udp_port(self.ip))]
        argv += ["-mi", self.ip, "-mp", str(free_udp_port(self.ip))]
        argv += ["-trace_stat", "-stf", base + ".csv", "-fd", "1"]
        if trace:  # not for floods: the message log would cost more than the sending
            argv += ["-trace_msg", "-message_file", base + ".msg"]
            argv += ["-trace_err", "-error_file", base + ".errors"]
        for key, value in (keys or {}).items():
            argv += ["-key", key, str(value)]
        return argv + list(extra), base

    def start(self, name, remote=None, calls=1, keys=None, extra=(), subst=None, trace=True):
        """Start a scenario in the background; finish it with `result(handle, timeout)`."""
        self.runs += 1
        run = "%s-%d-%s" % (self.name, self.runs, name)
        path = scenario(name, self.folder, **(subst or {}))
        remote = remote or "%s:%d" % (self.net.provider, self.net.sip_port)
        argv, base = self._argv(path, remote, calls, keys, extra, run, trace)
        proc = self.procs.start(run, argv)
        return (proc, base, run)

    def result(self, handle, timeout):
        proc, base, run = handle
        try:
            rc = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.stop()
            rc = None
        return SippResult(rc, read_stat_csv(base + ".csv"), read_message_log(base + ".msg"), run)

    def run(
        self, name, remote=None, calls=1, keys=None, extra=(), subst=None, timeout=30.0, trace=True
    ):
        """Run a scenario to its end (bounded by `timeout`) and return its SippResult."""
        return self.result(self.start(name, remote, calls, keys, extra, subst, trace), timeout)

    def wait_ready(self, timeout=5.0):
        wait_for(lambda: udp_bound(self.ip, self.port, False), timeout, what="sipp to listen")


# --- SIPVicious: the scanner ------------------------------------------------------------


class ScanResult:
    def __init__(self, tool, returncode, output):
        self.tool = tool
        self.returncode = returncode
        self.output = output

    def __repr__(self):
        return "<%s rc=%s %r>" % (self.tool, self.returncode, self.output[-600:])


def run_scanner(net, folder, tool, args, timeout=60.0):
    """Run sipvicious_<tool> with `args`; HOME in the test folder so its session files
    stay there. Returns its exit code and output."""
    env = dict(os.environ)
    env["HOME"] = folder
    argv = [which("sipvicious_" + tool)] + list(args)
    try:
        done = subprocess.run(
            argv,
            env=env,
            cwd=folder,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            start_new_session=True,
        )
        output = (done.stdout + done.stderr).decode("utf-8", "replace")
        return ScanResult(tool, done.returncode, output)
    except subprocess.TimeoutExpired as timed_out:
        output = (timed_out.stdout or b"") + (timed_out.stderr or b"")
        return ScanResult(tool, None, output.decode("utf-8", "replace"))


# --- hushgate itself -------------------------------------------------------------------


# The heap the end-to-end runs give the firmware: an ESP32's 110 KB (HUSHGATE_HEAP may
# say another), the modules in a ROMFS image as tools/run runs them. This 64-bit port
# holds fewer objects in it than an ESP32 does (the same firmware's live heap is 1.6x
# a 32-bit MicroPython's: README, Figures).
E2E_HEAP = os.environ.get("HUSHGATE_HEAP", "110k")


class Hushgate:
    """hushgate as the README runs it: `HUSHGATE_HEAP=110k tools/run` (MicroPython unix
    port, the modules in a ROMFS image, the host board) at net.hushgate, with its state
    folder, config.json and a web password written before it starts. Its stderr has
    one `call: ...` line per call attempt; stdin is the simulated button; /api/* is
    read with Basic auth."""

    password = "e2e-only-password"
    start_timeout = 90.0  # tools/run checks the venv and compiles the firmware first

    def __init__(self, procs, net, folder, config=None, state=None, name="hushgate"):
        self.procs = procs
        self.net = net
        self.name = name
        self.state = state or os.path.join(folder, "state")
        os.makedirs(self.state, exist_ok=True)
        if config is not None:
            self.write_config(config)
        self._set_password()
        self.runs = 0
        self.proc = None
        self.start()

    def base_config(self):
        net = self.net
        return {
            "ata": "%s:%d" % (net.ata, net.sip_port),
            "provider": "%s:%d" % (net.provider, net.sip_port),
            "timezone": "UTC0",
        }

    def write_config(self, overrides):
        config = self.base_config()
        config.update(overrides)
        path = os.path.join(self.state, "config.json")
        with open(path + ".tmp", "w") as f:
            json.dump(config, f, indent=1)
        os.replace(path + ".tmp", path)

    def read_config(self):
        with open(os.path.join(self.state, "config.json")) as f:
            return json.load(f)

    def read_counters(self):
        """The counters hushgate saved in its state folder (written at a clean stop)."""
        with open(os.path.join(self.state, "counters.json")) as f:
            return json.load(f)

    def _set_password(self):
        firmware = os.path.join(ROOT, "firmware")
        if firmware not in sys.path:
            sys.path.insert(0, firmware)
        from hushgate import auth

        keeper = auth.Auth(self.state, lambda: 0)
        if not keeper.has_password():
            keeper.set_password(self.password)

    def start(self):
        net = self.net
        # after kill() the firmware may hold its socket a moment longer than the launcher
        if self.proc is not None:
            wait_for(
                lambda: not udp_bound(net.hushgate, net.sip_port, False),
                5,
                what="the previous hushgate to let go of its address",
            )
        require_free(net.hushgate, net.sip_port, self.name)
        self.runs += 1
        # another launcher taking tools/run's options may stand in (HUSHGATE_E2E_RUN)
        argv = os.environ.get("HUSHGATE_E2E_RUN", os.path.join(ROOT, "tools", "run")).split()
        argv += ["--listen", "%s:%d" % (net.hushgate, net.sip_port)]
        argv += ["--ata", "%s:%d" % (net.ata, net.sip_port)]
        argv += ["--provider", "%s:%d" % (net.provider, net.sip_port)]
        argv += ["--web", "%s:%d" % (net.hushgate, net.web_port)]
        argv += ["--state", self.state]
        name = self.name if self.runs == 1 else "%s-%d" % (self.name, self.runs)
        env = dict(os.environ, HUSHGATE_HEAP=E2E_HEAP)
        self.proc = self.procs.start(name, argv, cwd=ROOT, env=env, stdin=subprocess.PIPE)
        self.proc.clean_stop = True
        wait_for(
            lambda: (
                (udp_bound(net.hushgate, net.sip_port, False) and "hushgate on" in self.log())
                or not self.proc.running()
            ),
            self.start_timeout,
            what="hushgate to listen",
        )
        if not self.proc.running():
            raise RuntimeError("hushgate did not start:\n" + self.log()[-3000:])

    def stop(self, timeout=10.0):
        """SIGTERM as a person would (Ctrl-C): the firmware saves its counters."""
        return self.proc.stop(timeout, leader_only=True)

    def kill(self):
        """A power cut: SIGKILL to the launcher and the firmware."""
        self.proc.kill()

    def running(self):
        return self.proc.running()

    def press(self, key="b"):
        """The simulated button: "b" short press, "l" long press."""
        self.proc.popen.stdin.write(key.encode() + b"\n")
        self.proc.popen.stdin.flush()

    def button_said(self):
        """What the panel answered to the presses so far (its `button: ...` lines)."""
        text = self.proc.out() + self.proc.err()
        return [line for line in text.splitlines() if line.startswith("button: ")]

    def press_and_wait(self, key="b", timeout=5.0):
        """Press the button and return the panel's answer to this press."""
        before = len(self.button_said())
        self.press(key)
        said = wait_for(
            lambda: self.button_said()[before:], timeout, what="the panel's answer to a press"
        )
        return said[0]

    def log(self):
        return self.proc.err()

    def call_lines(self, *words):
        """The `call: ...` log lines (one per call attempt) containing every word."""
        found = []
        for line in self.log().splitlines():
            if line.startswith("call: ") and all(w.lower() in line.lower() for w in words):
                found.append(line)
        return found

    def calls(self):
        """The call attempts from hushgate's log, newest first: dicts with number,
        name, source, kind (rang, quiet, blocked, scanner, ...) and reason. The line is
        `call: WHEN from NUMBER 'NAME' at SOURCE: KIND (REASON)`."""
        found = []
        for line in self.call_lines():
            text = line[len("call: ") :]
            at = text.find(" from ")
            where = text.rfind(" at ")
            if at < 0 or where < at:
                continue
            who = text[at + 6 : where]
            number, _, name = who.partition(" ")
            source, _, verdict = text[where + 4 :].partition(": ")
            kind, _, reason = verdict.partition(" (")
            found.append(
                {
                    "number": number,
                    "name": name.strip("'\""),
                    "source": source,
                    "kind": kind,
                    "reason": reason[:-1] if reason.endswith(")") else reason,
                }
            )
        found.reverse()
        return found

    def api(self, path, body=None, timeout=5.0):
        import base64
        import urllib.request

        url = "http://%s:%d%s" % (self.net.hushgate, self.net.web_port, path)
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data)
        token = base64.b64encode(b"e2e:" + self.password.encode()).decode()
        request.add_header("Authorization", "Basic " + token)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return json.loads(answer.read())

    def status(self):
        return self.api("/api/status")

    def mem_alloc(self, timeout=10.0):
        """gc.mem_alloc() after a collection, as the firmware reports it on its console
        (`m` on stdin -> `mem: alloc=N free=N` on stderr): no web page loaded for it."""

        def readings():
            return [x for x in self.log().splitlines() if x.startswith("mem: alloc=")]

        before = len(readings())
        self.press("m")
        line = wait_for(lambda: readings()[before:], timeout, what="hushgate's heap figure")[0]
        return int(line.split()[1].split("=")[1])


# --- loopback UDP: a sender for torture and floods, an RTP sink -------------------------


class Blaster:
    """Sends datagrams at a target from one or many loopback source addresses, and
    keeps whatever comes back (there should be nothing: the internet side gets no
    answer). `rate` is datagrams per second over all sources (None: as fast as it can).
    """

    def __init__(self, sources, port=0):
        self.socks = []
        for ip in sources:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind((ip, port))
            sock.setblocking(False)
            self.socks.append(sock)
        self.sent = 0
        self.replies = []

    def _collect(self):
        for sock in self.socks:
            while True:
                try:
                    data, source = sock.recvfrom(65536)
                except (BlockingIOError, InterruptedError):
                    break
                except ConnectionRefusedError:
                    continue  # ICMP from a closed port: nothing is listening
                self.replies.append((sock.getsockname(), source, data))

    def send(self, datagrams, target, rate=None, duration=None):
        """Send every datagram once (cycling through the sources); with `duration`,
        cycle through them until that many seconds have passed."""
        started = time.monotonic()
        sent_before = self.sent
        i = 0
        count = len(datagrams)
        while True:
            if duration is None and i >= count:
                break
            if duration is not None and time.monotonic() - started >= duration:
                break
            sock = self.socks[i % len(self.socks)]
            try:
                sock.sendto(datagrams[i % count], target)
                self.sent += 1
            except (BlockingIOError, ConnectionRefusedError):
                pass
            i += 1
            if i % 64 == 0:
                self._collect()
            if rate:
                ahead = i / rate - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)
        return self.sent - sent_before

    def listen(self, seconds):
        """Keep collecting replies for a while after the last datagram."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self._collect()
            time.sleep(0.05)
        return self.replies

    def close(self):
        for sock in self.socks:
            sock.close()


class UdpSink:
    """A socket that counts what arrives (e.g. RTP) and from where, in a thread."""

    def __init__(self, ip, port):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((ip, port))
        self.sock.settimeout(0.2)
        self.sources = {}
        self._running = True
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self):
        while self._running:
            try:
                _, source = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            self.sources[source[0]] = self.sources.get(source[0], 0) + 1

    def close(self):
        self._running = False
        self._thread.join(2)
        self.sock.close()
