#!/usr/bin/env python3
"""Load benchmark: hushgate (MicroPython unix port) beside Kamailio.

Runs, in one go on this machine, hushgate and Kamailio (a stateless `forward()` edge
config, and the same with pike + an htable ban list) against the same traffic, and
prints each figure for both and their ratio:

* CPU per dropped scanner datagram, from one source (banned after its burst) and from
  many sources, while a wanted call is placed every few seconds (all must complete);
* CPU per first-contact scanner datagram (parse + fingerprint + verdict);
* added latency of a forwarded INVITE (INVITE -> 180, median and p99) against the
  direct path;
* hushgate's heap (gc.mem_alloc after collection) before, peak and after the run;
  Kamailio's resident memory.

CPU is the receiving process's own, from /proc/PID/schedstat (summed over Kamailio's
processes), divided by the datagrams that reached its socket (sent minus the socket's
drop counter in /proc/net/udp). Sender and receiver are pinned to different cores.
Loopback only: every address is 127.x, taken from HUSHGATE_BENCH_NET (default 127.0.1).

    .venv/bin/python tools/bench_load.py [--datagrams 100000] [--rate 20000] [--heap 110k]

hushgate runs as the end-to-end tests run it: its modules in a ROMFS image, run in
place (tools/romboot.py), with an ESP32's 110 KB of heap for the firmware (--heap;
HUSHGATE_HEAP). `--no-rom` loads the modules onto the heap instead, as a stock board
image does; on this 64-bit port that needs --heap 224k (README, Figures).
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import build

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NET = os.environ.get("HUSHGATE_BENCH_NET", "127.0.1")
PROVIDER = (NET + ".2", 5060)
HUSHGATE = (NET + ".3", 5060)
ATA = (NET + ".4", 5060)
SCANNER = NET + ".5"
KAMAILIO = (NET + ".7", 5060)
KAMAILIO_PIKE = (NET + ".8", 5060)
MANY_NET = os.environ.get("HUSHGATE_BENCH_MANY", "127.0.2")  # .1 .. .200 as scanners
VENV_BIN = os.path.join(ROOT, ".venv", "bin")

SCANNER_OPTIONS = (
    "OPTIONS sip:100@{dst} SIP/2.0\r\n"
    "Via: SIP/2.0/UDP {src}:{sport};branch=z9hG4bK-{n};rport\r\n"
    "Max-Forwards: 70\r\n"
    'From: "sipvicious"<sip:100@1.1.1.1>;tag=6132336436366136{n}\r\n'
    'To: "sipvicious"<sip:100@1.1.1.1>\r\n'
    "Call-ID: {n}-bench\r\n"
    "CSeq: 1 OPTIONS\r\n"
    "Contact: <sip:100@{src}:{sport}>\r\n"
    "User-Agent: friendly-scanner\r\n"
    "Accept: application/sdp\r\n"
    "Content-Length: 0\r\n\r\n"
)


def cores():
    n = os.cpu_count() or 1
    return ("0", "1") if n > 1 else ("0", "0")


def schedstat_ns(pids):
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/schedstat" % pid) as f:
                total += int(f.read().split()[0])
        except OSError:
            pass
    return total


def process_tree(pid):
    """pid and all its descendants (Kamailio forks its workers)."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(children.get(p, []))
    return found


def rss_kb(pids):
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def udp_drops(address):
    """The drop counter of the UDP socket bound to address (ip, port)."""
    ip, port = address
    want = "%s:%04X" % ("".join("%02X" % int(o) for o in reversed(ip.split("."))), port)
    with open("/proc/net/udp") as f:
        next(f)
        for line in f:
            fields = line.split()
            if fields[1] == want:
                return int(fields[-1])
    return 0


def blast(sources, target, count, rate, core):
    """Send count scanner datagrams round-robin from sources at about rate/s."""
    cmd = [
        "taskset",
        "-c",
        core,
        sys.executable,
        os.path.join(ROOT, "tools", "bench", "blast.py"),
        ",".join(sources),
        target[0],
        str(target[1]),
        str(count),
        str(rate),
        SCANNER_OPTIONS,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=600)
    return float(out.stdout.strip())


class Peer:
    def __init__(self, name, cmd, cwd=None, env=None, core=None, stdin=None):
        if core is not None and shutil.which("taskset"):
            cmd = ["taskset", "-c", core] + cmd
        self.name = name
        self.log = tempfile.NamedTemporaryFile(
            prefix="bench-%s-" % name, suffix=".log", delete=False
        )
        self.proc = subprocess.Popen(
            cmd,
            cwd=cwd,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
        )

    def pids(self):
        return process_tree(self.proc.pid)

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def output(self):
        with open(self.log.name, errors="replace") as f:
            return f.read()


def start_hushgate(state, core, heap, rom=True):
    # Its own build folder: tools/run (build/host) may be running meanwhile.
    out = os.path.join(ROOT, "build", "bench-load")
    build.build("host", out)
    with open(os.path.join(state, "config.json"), "w") as f:
        json.dump({"ata": "%s:%d" % ATA, "provider": "%s:%d" % PROVIDER}, f)
    micropython = os.path.join(VENV_BIN, "micropython")
    if rom:
        image = out + ".romfs"
        size = build.romfs(out, image)
        env = dict(os.environ, MICROPYPATH=".frozen")
        cmd = [micropython, "-X", "heapsize=%d" % build.rom_heap(heap, size)]
        cmd += [os.path.join(ROOT, "tools", "romboot.py"), image, os.path.join(out, "main.py")]
    else:
        env = dict(os.environ, MICROPYPATH=".frozen:" + out)
        cmd = [micropython, "-X", "heapsize=" + heap, "-m", "main"]
    cmd += ["--listen", "%s:%d" % HUSHGATE, "--web", "%s:18080" % HUSHGATE[0]]
    cmd += ["--state", state]
    peer = Peer("hushgate", cmd, env=env, core=core, stdin=True)
    try:
        wait_udp(HUSHGATE)
    except RuntimeError:
        # Most often a MemoryError at import or start with a small --heap: say so.
        peer.stop()
        sys.exit("bench_load: hushgate did not start (heap %s):\n%s" % (heap, peer.output()))
    return peer


def start_kamailio(address, pike, core, workdir):
    cfg = os.path.join(ROOT, "tools", "bench", "kamailio-edge.cfg")
    cmd = [
        "kamailio",
        "-DD",
        "-E",
        "-f",
        cfg,
        "-Y",
        workdir,
        "-m",
        "64",
        "-M",
        "8",
        "-A",
        "LISTEN=%s:%d" % address,
        "-A",
        'ATA_IP="%s"' % ATA[0],
        "-A",
        "ATA_PORT=%d" % ATA[1],
    ]
    if pike:
        cmd += ["-A", "WITH_PIKE"]
    peer = Peer("kamailio-pike" if pike else "kamailio", cmd, core=core)
    wait_udp(address)
    return peer


def wait_udp(address, timeout=15):
    deadline = time.time() + timeout
    ip, port = address
    want = "%s:%04X" % ("".join("%02X" % int(o) for o in reversed(ip.split("."))), port)
    while time.time() < deadline:
        with open("/proc/net/udp") as f:
            if any(line.split()[1] == want for line in list(f)[1:]):
                return
        time.sleep(0.1)
    raise RuntimeError("nothing listens on %s:%d" % address)


def measure_drop(peer, target, sources, count, rate, sender_core):
    pids = peer.pids()
    drops0, cpu0 = udp_drops(target), schedstat_ns(pids)
    seconds = blast(sources, target, count, rate, sender_core)
    time.sleep(0.5)
    drops1, cpu1 = udp_drops(target), schedstat_ns(peer.pids())
    delivered = count - (drops1 - drops0)
    return {
        "us_per_datagram": (cpu1 - cpu0) / 1000.0 / max(delivered, 1),
        "delivered": delivered,
        "sent": count,
        "seconds": seconds,
    }


class Sipp:
    """A sipp run in the background, with its statistics file read at the end."""

    def __init__(self, name, args, core=None):
        self.dir = tempfile.mkdtemp(prefix="bench-sipp-%s-" % name)
        self.stf = os.path.join(self.dir, "stat.csv")
        cmd = ["sipp"] + args + ["-nostdin", "-trace_stat", "-stf", self.stf, "-fd", "1"]
        if core is not None:
            cmd = ["taskset", "-c", core] + cmd
        # Its complaints to a file (a pipe nobody reads can fill and stall it).
        self.err = os.path.join(self.dir, "stderr.txt")
        with open(self.err, "w") as err:
            self.proc = subprocess.Popen(cmd, cwd=self.dir, stdout=subprocess.DEVNULL, stderr=err)

    def errors(self):
        with open(self.err, errors="replace") as f:
            return f.read().strip()

    def wait(self, timeout):
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        return self.counts()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGUSR1)  # sipp's "quit after the calls in flight"
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def counts(self):
        try:
            with open(self.stf) as f:
                rows = [line.rstrip("\n").split(";") for line in f if line.strip()]
        except OSError:
            return {"ok": 0, "failed": 0}
        head, last = rows[0], rows[-1]
        return {
            "ok": int(last[head.index("SuccessfulCall(C)")]),
            "failed": int(last[head.index("FailedCall(C)")]),
        }

    def rtts_ms(self):
        """Every INVITE -> 180 time, from -trace_rtt's file."""
        values = []
        for name in os.listdir(self.dir):
            if name.endswith("_rtt.csv"):
                with open(os.path.join(self.dir, name)) as f:
                    for line in f:
                        fields = line.strip().split(";")
                        if len(fields) >= 3 and fields[3:4] == ["1"]:
                            values.append(float(fields[2]))
        return values


def wanted_calls(target, calls, rate_per_s, core, rtt=False, port=5060):
    args = [
        "-sf",
        os.path.join(ROOT, "tools", "bench", "uac_rtt.xml"),
        "-s",
        "0155512345",
        "-i",
        PROVIDER[0],
        "-p",
        str(port),
        "-m",
        str(calls),
        "-r",
        str(rate_per_s),
        "-timeout",
        "120",
        "%s:%d" % target,
    ]
    if rtt:
        args += ["-trace_rtt", "-rtt_freq", "1"]
    return Sipp("uac", args, core)


def merge_rounds(best, r):
    """Two rounds of one flood: the lower CPU figure, every call and heap sample."""
    if best is None:
        return r
    keep = dict(r if r["us_per_datagram"] < best["us_per_datagram"] else best)
    keep["calls"] = {k: best["calls"][k] + r["calls"][k] for k in ("ok", "failed")}
    keep["calls_placed"] = best["calls_placed"] + r["calls_placed"]
    keep["heap_samples"] = best["heap_samples"] + r["heap_samples"]
    keep["rounds"] = best.get("rounds", 1) + 1
    return keep


def percentile(values, q):
    values = sorted(values)
    if not values:
        return float("nan")
    k = min(len(values) - 1, max(0, int(round(q * (len(values) - 1)))))
    return values[k]


def hushgate_mem(peer):
    """The firmware's own figure: gc.mem_alloc() after a collection ("m" on stdin)."""
    before = peer.output().count("mem: alloc=")
    peer.proc.stdin.write(b"m\n")
    peer.proc.stdin.flush()
    deadline = time.time() + 5
    while time.time() < deadline:
        out = peer.output()
        if out.count("mem: alloc=") > before:
            line = out[out.rindex("mem: alloc=") :].split("\n", 1)[0]
            return int(line.split("alloc=")[1].split()[0])
        time.sleep(0.05)
    return None


def flood(peer, target, sources, count, rate, send_core, recv_core, mem=None):
    """CPU per delivered datagram while a wanted call is placed every 2 s."""
    seconds = count / rate
    calls = max(2, int(seconds / 2))
    uac = wanted_calls(target, calls, 0.5, recv_core, port=5070)
    time.sleep(0.3)
    samples = []
    if mem is not None:
        # The firmware's own heap figure twice a second while the flood runs (each a
        # gc.collect of a ~200 KB heap: well under 0.1 us per datagram of CPU).
        done = threading.Event()

        def sample():
            while not done.wait(0.5):
                value = mem()
                if value is not None:
                    samples.append(value)

        sampler = threading.Thread(target=sample)
        sampler.start()
    try:
        result = measure_drop(peer, target, sources, count, rate, send_core)
    finally:
        if mem is not None:
            done.set()
            sampler.join()
    result["heap_samples"] = samples
    calls_done = uac.wait(60 + seconds)
    if calls_done["ok"] + calls_done["failed"] < calls:
        print("bench_load: sipp placed too few calls:\n%s" % uac.errors()[-2000:], file=sys.stderr)
    result["calls"] = calls_done
    result["calls_placed"] = calls
    return result


def print_latency(lat):
    print("added latency of a forwarded INVITE (INVITE -> 180, ms):")
    d_med, d_p99 = lat["direct"][0], lat["direct"][1]
    print("  direct path: median %.3f p99 %.3f (%d calls)" % (d_med, d_p99, lat["direct"][2]))
    added = {}
    for name in ("hushgate", "kamailio"):
        med, p99, n, lost = lat[name]
        added[name] = med - d_med
        print(
            "  %-9s median +%.3f p99 +%.3f (%d answered, %d lost)"
            % (name, med - d_med, p99 - d_p99, n, lost)
        )
    if added["kamailio"] > 0:
        ratio = added["hushgate"] / added["kamailio"]
        print("  ratio hushgate/kamailio (median added): %.2f" % ratio)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--datagrams", type=int, default=100000)
    ap.add_argument("--rate", type=float, default=20000, help="scanner datagrams per second")
    ap.add_argument("--calls", type=int, default=200, help="calls for the latency figure")
    ap.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="each flood this many times (lowest CPU figure kept); latency calls in as many turns",
    )
    ap.add_argument(
        "--heap",
        default=os.environ.get("HUSHGATE_HEAP", "110k"),
        help="hushgate's heap (default 110k, or HUSHGATE_HEAP): the firmware's own, the "
        "ROMFS image comes on top (see tools/build.py --romfs)",
    )
    ap.add_argument(
        "--no-rom",
        dest="rom",
        action="store_false",
        help="the modules loaded onto the heap, as a stock board image does (needs 224k)",
    )
    ap.add_argument(
        "--latency-only",
        action="store_true",
        help="measure only the added latency of a forwarded INVITE (no floods)",
    )
    args = ap.parse_args()
    for tool in ("kamailio", "sipp", "taskset"):
        if not shutil.which(tool):
            sys.exit("bench_load: %s is missing (tools/setup --test installs it)" % tool)
    recv_core, send_core = cores()
    many = ["%s.%d" % (MANY_NET, i) for i in range(1, 201)]
    work = tempfile.mkdtemp(prefix="bench-load-")
    peers = []
    echo = uas = None
    try:
        # Latency first, with a UAS that answers 180 at once, microsecond clocks.
        script = os.path.join(ROOT, "tools", "bench", "latency.py")
        echo = subprocess.Popen(
            ["taskset", "-c", send_core, sys.executable, script, "uas", ATA[0], str(ATA[1]), "600"]
        )
        hush = start_hushgate(work, recv_core, args.heap, args.rom)
        peers.append(hush)
        kam = start_kamailio(KAMAILIO, False, recv_core, os.path.join(work, "k1"))
        peers.append(kam)
        kpike = start_kamailio(KAMAILIO_PIKE, True, recv_core, os.path.join(work, "k2"))
        peers.append(kpike)
        rows = []
        lat = {}
        # Rounds, each target in turn (the order reversed every other round), so a
        # change in the machine's load meets all three alike.
        targets = [("direct", ATA), ("hushgate", HUSHGATE), ("kamailio", KAMAILIO)]
        rounds = max(1, args.rounds)
        per_round = max(1, args.calls // rounds)
        values = {name: [] for name, _t in targets}
        lost = dict.fromkeys(values, 0)
        for r in range(rounds):
            for name, target in targets if r % 2 == 0 else targets[::-1]:
                out = subprocess.run(
                    [
                        "taskset",
                        "-c",
                        send_core,
                        sys.executable,
                        script,
                        "uac",
                        PROVIDER[0],
                        "5062",
                        target[0],
                        str(target[1]),
                        str(per_round),
                        str(r * per_round),  # first call number: Call-IDs never repeat
                    ],
                    capture_output=True,
                    text=True,
                    timeout=300,
                ).stdout.split()
                values[name] += [float(v) for v in out if v != "lost"]
                lost[name] += out.count("lost")
        for name in values:
            lat[name] = (
                percentile(values[name], 0.5),
                percentile(values[name], 0.99),
                len(values[name]),
                lost[name],
            )
        echo.kill()
        echo.wait()
        if args.latency_only:
            version = kamailio_version()
            print("hushgate (heap %s) beside Kamailio %s, same run" % (args.heap, version))
            print_latency(lat)
            return 0
        uas = Sipp("uas", ["-sn", "uas", "-i", ATA[0], "-p", str(ATA[1]), "-timeout", "900"])
        time.sleep(0.5)

        mem_before = hushgate_mem(hush)
        runs = {}
        # Each flood args.rounds times, in turn; the lowest CPU per datagram of the
        # rounds counts (other work on the machine only ever adds to it).
        for _round in range(rounds):
            for label, sources in (("one source", [SCANNER]), ("200 sources", many)):
                for who, peer, target in (
                    ("hushgate", hush, HUSHGATE),
                    ("kamailio+pike", kpike, KAMAILIO_PIKE),
                    ("kamailio", kam, KAMAILIO),
                ):
                    mem = (lambda: hushgate_mem(hush)) if who == "hushgate" else None
                    r = flood(
                        peer,
                        target,
                        sources,
                        args.datagrams,
                        args.rate,
                        send_core,
                        recv_core,
                        mem=mem,
                    )
                    runs[(who, label)] = merge_rounds(runs.get((who, label)), r)
        mem_after = hushgate_mem(hush)

        print(
            "hushgate (MicroPython unix port, heap %s) beside Kamailio %s, same run"
            % (args.heap, kamailio_version())
        )
        print(
            "sender on core %s, receivers on core %s; %d datagrams per flood at %d/s,"
            " best of %d rounds" % (send_core, recv_core, args.datagrams, args.rate, rounds)
        )
        print()
        print("CPU per scanner datagram received (us):")
        for label in ("one source", "200 sources"):
            h = runs[("hushgate", label)]
            kp = runs[("kamailio+pike", label)]
            k = runs[("kamailio", label)]
            print(
                "  %-12s hushgate %6.2f  kamailio+pike %6.2f  ratio %.2f   "
                "kamailio UA regex only %6.2f"
                % (
                    label,
                    h["us_per_datagram"],
                    kp["us_per_datagram"],
                    h["us_per_datagram"] / kp["us_per_datagram"],
                    k["us_per_datagram"],
                )
            )
            for who, r in (("hushgate", h), ("kamailio+pike", kp), ("kamailio", k)):
                rows.append((who, label, r))
        print("  wanted calls during the floods (completed/placed):")
        for who, label, r in rows:
            print(
                "    %-14s %-12s %d/%d failed %d, %d of %d datagrams delivered"
                % (
                    who,
                    label,
                    r["calls"]["ok"],
                    r["calls_placed"],
                    r["calls"]["failed"],
                    r["delivered"],
                    r["sent"],
                )
            )
        print()
        print_latency(lat)
        print()
        print("memory:")
        samples = [v for _w, _l, r in rows for v in r.get("heap_samples", [])]
        print(
            "  hushgate heap in use (gc.mem_alloc after collect): before %s, peak %s, after %s"
            " (%d datagrams)"
            % (mem_before, max(samples or [0]), mem_after, 2 * rounds * args.datagrams)
        )
        print(
            "  kamailio RSS: %d KB (stateless), %d KB (pike), all processes"
            % (rss_kb(kam.pids()), rss_kb(kpike.pids()))
        )
        failed = [r for _w, _l, r in rows if r["calls"]["ok"] < r["calls_placed"]]
        return 1 if failed else 0
    finally:
        for peer in peers:
            peer.stop()
        if echo is not None and echo.poll() is None:
            echo.kill()
            echo.wait()
        if uas is not None:
            uas.stop()
        shutil.rmtree(work, ignore_errors=True)


def kamailio_version():
    out = subprocess.run(["kamailio", "-v"], capture_output=True, text=True).stdout
    return out.split()[2] if out.startswith("version:") else "?"


if __name__ == "__main__":
    sys.exit(main())
