"""Hushgate's proxy, gate and web page on CPython, for the browser test.

The real firmware runs under MicroPython (tools/run); this runner wires the same
pure modules (config, calllog, gate, proxy, web) around a CPython UDP socket so the
browser test can drive the page against real SIP traffic while the MicroPython app
is being finished. It stops by itself after --seconds.

    python host_tests/webrunner.py --listen 127.0.0.3:5060 --web 127.0.0.3:8080 \\
        --state DIR --ata 127.0.0.4:5060 --provider 127.0.0.2:5060 --seconds 300
"""

import argparse
import asyncio
import os
import socket
import sys
import time

sys.path.insert(
    0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "firmware")
)

from hushgate import calllog, config, gate, proxy, web  # noqa: E402
from hushgate.compat import ticks_ms  # noqa: E402


def host_port(text):
    host, _, port = text.rpartition(":")
    return host, int(port)


def resolve(text):
    host, port = host_port(text)
    return socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_DGRAM)[0][4][:2]


class Clock:
    def utc(self):
        return int(time.time())


class Ctx:
    """What hushgate.web needs (docs/web.md), as app.py gives it on the board."""

    def __init__(self, opts):
        self.state_dir = opts.state
        self.store = config.Store(opts.state)
        cfg, self.config_problems = self.store.load()
        for key in ("ata", "provider"):
            if getattr(opts, key):
                cfg[key] = getattr(opts, key)
        self.config = cfg
        self.clock = Clock()
        self.log = calllog.CallLog()
        self.gate = gate.Gate(cfg, self.log, self.clock)
        self.proxy = proxy.Proxy(host_port(opts.listen), self.gate)
        self.tz = self.gate.tz
        self.last_error = None
        self.started = time.monotonic()
        self._addresses()

    def _addresses(self):
        cfg = self.config
        self.proxy.ata = resolve(cfg["ata"]) if cfg.get("ata") else None
        if cfg.get("provider"):
            self.proxy.provider = resolve(cfg["provider"])
            self.gate.set_provider_addresses([self.proxy.provider[0]])

    def uptime_s(self):
        return int(time.monotonic() - self.started)

    def mem(self):
        return "(CPython runner: not measured)"

    def apply(self, cfg):
        self.store.save(cfg)
        self.config = cfg
        self.gate.configure(cfg)
        self.tz = self.gate.tz
        self._addresses()


class Sip(asyncio.DatagramProtocol):
    def __init__(self, ctx):
        self.ctx = ctx

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        try:
            out = self.ctx.proxy.handle(data, (addr[0], addr[1]), ticks_ms())
        except Exception as e:
            self.ctx.last_error = repr(e)
            return
        for datagram, destination in out:
            self.transport.sendto(datagram, destination)


async def main(opts):
    ctx = Ctx(opts)
    loop = asyncio.get_running_loop()
    await loop.create_datagram_endpoint(lambda: Sip(ctx), local_addr=host_port(opts.listen))
    host, port = host_port(opts.web)
    server = web.make_app(ctx)
    print("webrunner: http://%s:%d/ SIP %s" % (host, port, opts.listen), flush=True)
    try:
        await asyncio.wait_for(server.start_server(host, port), opts.seconds)
    except TimeoutError:
        pass


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--listen", default="127.0.0.3:5060")
    ap.add_argument("--web", default="127.0.0.3:8080")
    ap.add_argument("--state", required=True)
    ap.add_argument("--ata")
    ap.add_argument("--provider")
    ap.add_argument("--seconds", type=float, default=300)
    opts = ap.parse_args()
    for value in (opts.listen, opts.web, opts.ata, opts.provider):
        if value and not value.startswith("127."):
            sys.exit("webrunner: loopback addresses only (127.x.y.z)")
    asyncio.run(main(opts))
