# The SIP socket: the only module that touches sockets.
#
# Addresses leave this module as (ip_str, port) tuples whatever the port gives:
# lwIP (ESP32, RP2) returns ("1.2.3.4", 5060) from recvfrom, the unix port a raw
# struct sockaddr_in as bytes, and wants one back for bind/sendto. Conversions are
# cached in small bounded dicts so a known peer costs a dict look-up, not an
# allocation, on every datagram.
#
# Where recvfrom can peek (the unix port), a datagram's sender is peeked at first, a
# stranger is refused on it (the limiter as the door) and dropped by a one-byte read,
# and a datagram let in is peeked at in an Ethernet frame's buffer before a 4 KB one.
# lwIP's recvfrom takes no flags: there each datagram is read whole.
#
# No receive loop here: Endpoint.read() takes one datagram without blocking and the
# app's SIP loop drains the socket in bursts, so a datagram costs a call, not a
# coroutine object (an `await recv()` per datagram made one each time).
import gc
import socket

try:
    import select
except ImportError:
    select = None

try:
    from asyncio import core  # MicroPython's asyncio core and its I/O queue
except ImportError:
    core = None  # CPython: the endpoint is tested over a stand-in socket there

from hushgate.compat import const, presized, ticks_add, ticks_diff, ticks_ms

_AF_INET = const(2)
_SOCKADDR_LEN = const(16)
# Smaller reads when the heap has no max_size block; the last one only takes the
# datagram off the queue. After a miss, this many reads stay small.
_FALLBACK_SIZES = (1501, 513, 16)
_LEAN_READS = const(256)
_MSG_PEEK = const(2)  # Linux, the BSDs and macOS alike; the unix port's module names none
# Where the socket can peek, the buffer a datagram let in is first looked at in: an
# Ethernet frame's worth, which holds nearly every SIP datagram whole (a 4 KB buffer
# wants 4 KB in one piece, which a heap in pieces may not have).
_PEEK_SIZE = const(1501)
# A stranger let in is read after a collection, at most once in this many ms (see
# _tidy); after a datagram the heap had no block for, strangers are refused at
# the door for this many ms (see _starve).
_COLLECT_MS = const(100)
_STARVED_MS = const(1000)


def sockaddr_to_address(raw):
    """struct sockaddr_in bytes (unix port) -> (ip_str, port)."""
    if len(raw) < 8 or raw[0] | (raw[1] << 8) != _AF_INET:
        raise ValueError("not an IPv4 sockaddr")
    ip = "%d.%d.%d.%d" % (raw[4], raw[5], raw[6], raw[7])
    return ip, (raw[2] << 8) | raw[3]


def address_to_sockaddr(address):
    """(ip_str, port) -> struct sockaddr_in bytes, as the unix port's sendto wants."""
    ip, port = address
    parts = ip.split(".")
    if len(parts) != 4:
        raise ValueError("not an IPv4 address: %r" % ip)
    raw = bytearray(_SOCKADDR_LEN)
    raw[0] = _AF_INET
    raw[2] = (port >> 8) & 0xFF
    raw[3] = port & 0xFF
    for i in range(4):
        octet = int(parts[i])
        if not 0 <= octet <= 255:
            raise ValueError("not an IPv4 address: %r" % ip)
        raw[4 + i] = octet
    return bytes(raw)


def resolve(host, port):
    """(ip, port) for a host name or address; raises OSError when it can't."""
    info = socket.getaddrinfo(host, port, _AF_INET, socket.SOCK_DGRAM)
    if not info:
        raise OSError("no address for %s" % host)
    addr = info[0][-1]
    if isinstance(addr, tuple):
        return addr[0], addr[1]
    return sockaddr_to_address(addr)


class Endpoint:
    """A bound UDP socket, read without blocking and awaited through asyncio's I/O queue.

    Where the socket speaks raw sockaddr bytes (the unix port), the conversions are
    cached in two bounded dicts. When full they keep what they have and other peers
    are converted afresh each time: a flood from many sources then costs short-lived
    garbage, not a churn of long-lived entries scattered over (and fragmenting) the
    heap. `sock` and `raw` are for tests (a stand-in socket).
    """

    max_size = 4096  # the parser's limit; one more byte tells an oversize datagram
    # Datagrams read per wake-up before the other tasks get a turn (the app's loop).
    # A wake-up through the event loop costs about as much as refusing a datagram
    # (~11 us on the PC with the app's tasks), so a flood is drained in bursts; at
    # 32 the panel and the web page wait some 50 ms at worst on an ESP32.
    burst = 32
    # Peers whose address conversion is kept, each way: the provider, the ATA and a
    # few more (with a door, only those it always lets through: a flood's first
    # strangers must not take the places, nor pin small objects all over the heap);
    # each entry holds some 150 bytes of objects on the unix port.
    cache_size = 16
    # A max_size block held back for the read that finds the heap too fragmented for
    # its own (a wanted 200 OK must not be dropped because scattered small objects
    # left 27 KB free but no 4 KB in one piece), freed for that read, or lent to a
    # web page that ran out of heap (lend_spare); taken again by rearm(), which the
    # app calls on its one-second tick.
    spare = True

    def __init__(self, address, sock=None, raw=False):
        if sock is None:
            info = socket.getaddrinfo(address[0], address[1], _AF_INET, socket.SOCK_DGRAM)
            bind_to = info[0][-1]
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.setblocking(False)
            sock.bind(bind_to)
            raw = not isinstance(bind_to, tuple)
        self.sock = sock
        self.address = address
        self.raw = raw  # True: the socket speaks sockaddr bytes
        self._to_address = presized(self.cache_size)  # filled while there is room
        self._to_socket = presized(self.cache_size)
        self.source = None  # (ip, port) of the datagram read() returned last
        # Raw sockets only: the limiter (set by the app) and the ATA's address, to
        # refuse a datagram before it is read whole and its address built (_refuses).
        self.door = None
        self.always = ()
        self._always = self._door_changes = self._passes = None
        # The door looks at the next datagram's sender without reading it (a peek),
        # where recvfrom takes flags (the unix port; lwIP's takes none, and there the
        # door is not used); False once a recvfrom has refused the flags.
        self.peek = raw
        self._sink = bytearray(1)  # what a refused datagram is read into, to drop it
        self._collected_at = ticks_add(ticks_ms(), -_COLLECT_MS)
        self._starved_at = None  # ticks of the last datagram the heap had no block for
        self._stranger = None  # (raw ip, ip) of the last peer _ip_of() built an ip for
        self.refused = 0  # datagrams refused at the door (also in door.refused)
        self.oversize = 0
        self.low_memory = 0  # datagrams dropped because the heap had no block for them
        self.send_errors = 0
        self._lean = 0  # reads left in small buffers after the heap lacked a big one
        self._spare = None
        self.rearm()
        # A poller of our own, the socket always in it, for queued(); None where the
        # socket cannot be polled (a test's stand-in): read() then tells.
        self._poller = None
        if select is not None:
            try:
                poller = select.poll()
                if hasattr(poller, "ipoll"):  # MicroPython's (CPython's poll has none)
                    poller.register(sock, select.POLLIN)
                    self._poller = poller
            except (AttributeError, OSError, TypeError, ValueError):
                pass

    def readable(self):
        """Awaitable: returns once a datagram is queued (at once if one is)."""
        # asyncio has no UDP API: park the task on the socket in the core's I/O queue.
        yield core._io_queue.queue_read(self.sock)

    def queued(self):
        """False when no datagram is queued, asked without reading: a read that
        finds none raises inside the port after taking a max_size buffer from the
        heap (some 4 KB of garbage and 6 us on the unix port), a zero-timeout poll
        takes nothing. True when one is, or when the socket cannot be polled."""
        poller = self._poller
        if poller is None:
            return True
        for _ in poller.ipoll(0):  # ipoll reuses its tuple: no allocation
            return True
        return False

    # read() and its helpers keep their frames small (few locals, the try in its own
    # function): a MicroPython frame over about ten slots comes from the heap on
    # every call (the tests check it).
    def read(self):
        """The next queued datagram, its sender's (ip, port) in self.source; None when
        none is queued; False when the one read was dropped (oversize, no room in the
        heap, or refused at the door: counted)."""
        if self.peek:
            return self._read_peeking()
        got = self._recv()
        if got is None:
            return None
        data, peer = got
        # The door reads raw addresses: lwIP's sockets (their tuples) go without.
        if self.raw and self.door is not None and len(data) <= self.max_size:
            if self._refuses(peer):
                return False
        return self._deliver(data, peer)

    def _deliver(self, data, peer):
        # The datagram read, unless oversize; its sender's (ip, port) in self.source.
        if len(data) > self.max_size:
            self.oversize += 1
            return False
        if self.raw:
            peer = self._address(peer)
            if peer is None:
                return False
        self.source = peer
        return data

    def _read_peeking(self):
        # Where recvfrom takes flags (the unix port): the sender from a peek of no
        # bytes, the door's verdict on it, then the datagram let in (_take). A peek
        # costs 128 bytes of garbage; a read of a flood's datagram took a 4 KB buffer
        # (a first-fit search of the heap) and a copy of it.
        peer = self._sender()
        if peer is None or peer is False:
            return peer
        if peer is True:
            return self.read()  # the socket turned out not to peek
        if self.door is not None:
            if self._refuses(peer):
                self._drop()
                return False
            if not self._always_passes(peer):
                self._tidy()
        data = self._take()
        if data is None or data is False:
            return data
        return self._deliver(data, peer)

    def _sender(self):
        # The next datagram's sender, peeked at: None when none is queued, False when
        # the heap had no room even for the peek (dropped and counted), True when
        # recvfrom turned out to take no flags.
        try:
            return self.sock.recvfrom(0, _MSG_PEEK)[1]
        except OSError:
            return None  # nothing queued (EAGAIN), or an ICMP error reported on this read
        except MemoryError:
            self._starve()
            return False
        except TypeError:
            self.peek = False
            return True

    def _take(self):
        # The peeked-at datagram let in (_peek_whole): None when it went meanwhile (an
        # ICMP error). A buffer the heap has no block for loses nothing, the datagram
        # stays queued: tried again with the spare block freed (the collection the
        # next failed allocation runs frees it), else dropped and counted (False).
        data = self._peek_whole()
        if data is False and self.lend_spare():
            data = self._peek_whole()
        if data is False:
            self._starve()
        return data

    def _peek_whole(self):
        # If the datagram fits the peek's buffer it is whole, and only needs taking
        # off the queue; else it is read in max_size + 1. False: no block for that.
        # (MicroPython's readinto reads on until its buffer is full: datagrams would
        # run together in one, so it only takes the one-byte drops.)
        try:
            data = self.sock.recvfrom(_PEEK_SIZE, _MSG_PEEK)[0]
            if len(data) < _PEEK_SIZE:
                self._drop()
                return data
            return self.sock.recvfrom(self.max_size + 1)[0]
        except OSError:
            return None  # an ICMP error reported on this read
        except MemoryError:
            return False

    def _drop(self):
        # Takes the peeked-at datagram off the queue, allocating nothing: its rest is
        # dropped with the one byte read.
        try:
            self.sock.readinto(self._sink)
        except OSError:
            pass  # an ICMP error reported instead: the datagram is refused again next time

    def _starve(self):
        # A datagram the heap had no room for: dropped and counted, and strangers are
        # refused at the door for a while (_refuses). One let in whose read fails
        # never reaches the limiter's shared bucket, which would stay open to a flood
        # whose every datagram then cost a failed allocation and its collection.
        self.low_memory += 1
        self._starved_at = ticks_ms()
        self._drop()

    def _recv(self):
        try:
            if self._lean:
                # Recently short of a max_size block: don't pay a failed
                # allocation (and its collection) on every datagram.
                self._lean -= 1
            else:
                # MicroPython's sockets have no recvfrom_into, and readinto gives no
                # sender: where recvfrom cannot peek (lwIP) it is the cheapest path
                # measured. It needs its whole buffer as one free block for a moment
                # (the result shrinks to the datagram).
                return self.sock.recvfrom(self.max_size + 1)
        except OSError:
            return None  # nothing queued (EAGAIN), or an ICMP error reported on this read
        except MemoryError:
            # A heap fragmented by a flood may have no max_size block left even
            # after the collection the allocator ran.
            self._lean = _LEAN_READS
        if self._spare is not None:
            return self._spare_read()
        # Read into a smaller buffer (nearly every SIP datagram fits an Ethernet
        # frame). A datagram that fills it may have been cut short, so it is
        # dropped and counted.
        return self._small_read()

    def _spare_read(self):
        # The spare's block is this read's: dropped here, freed by the collection the
        # allocator runs when it finds no other.
        self._spare = None
        try:
            return self.sock.recvfrom(self.max_size + 1)
        except OSError:
            return None
        except MemoryError:
            return self._small_read()

    def _tidy(self):
        # A stranger let in may leave objects that outlive its datagram (its address
        # in the limiter, a logged INVITE, a verdict). Collected first, they go to the
        # heap's lowest holes: amid a flood's garbage each pinned a hole of its own,
        # and the heap ran out of 1.5 KB blocks with 18 KB free. A bounded number a
        # second, whatever the strangers send (keep-alives never reach the limiter).
        now = ticks_ms()
        elapsed = ticks_diff(now, self._collected_at)
        if elapsed < 0 or elapsed >= _COLLECT_MS:
            self._collected_at = now
            gc.collect()

    def lend_spare(self):
        """Frees the spare block for another part that found the heap in pieces (the
        web page): True if there was one. rearm() takes it back."""
        lent = self._spare is not None
        self._spare = None
        return lent

    def rearm(self):
        """Takes the spare block again if it was used and the heap has one (a failed
        try costs a collection: call it now and then, not per datagram). True when
        the endpoint holds one."""
        if self.spare and self._spare is None:
            try:
                self._spare = bytearray(self.max_size + 1)
            except MemoryError:
                pass
        return self._spare is not None

    def _address(self, peer):
        # (ip, port) of a raw peer, None when the heap had no room for it (counted).
        address = self._to_address.get(peer)
        if address is None:
            address = self._convert(peer)
        return address

    def _convert(self, peer):
        # The (ip, port) of a raw peer not in the cache, kept while there is room;
        # None when the heap has no room even for that (dropped and counted: the
        # SIP loop must not stop for it).
        try:
            address = sockaddr_to_address(peer)
            if len(self._to_address) < self.cache_size and (
                self.door is None or self._always_passes(peer)
            ):
                self._to_address[peer] = address
            return address
        except MemoryError:
            self.low_memory += 1
            return None

    def _refuses(self, peer):
        # What admit() would refuse, refused here on the raw address, before the
        # datagram is read: while the limiter admits no stranger, any source but those
        # it always lets through (or the ATA), without building an (ip, port); else a
        # banned source (its address built as garbage unless cached). Counted as
        # admit() would. Strangers are also refused while the heap is short (see
        # _starve), counted as low_memory. True: refused.
        now = ticks_ms()
        if self.door.closed(now):
            if self._always_passes(peer):
                return False
        elif self._starved_at is not None and self._starving(now, peer):
            self.low_memory += 1
            return True
        else:
            ip = self._ip_of(peer)
            if ip is None or not self.door.banned(ip, now):
                return False
        self.door.refused += 1
        self.refused += 1
        return True

    def _ip_of(self, peer):
        # The ip of a raw peer: cached; the last stranger's, if it is that one again
        # (a flood from one banned source then builds none); else built. None: no
        # room in the heap.
        address = self._to_address.get(peer)
        if address is not None:
            return address[0]
        last = self._stranger
        if last is not None and peer.find(last[0], 4, 8) == 4:
            return last[1]
        address = self._convert(peer)
        if address is None:
            return None
        self._remember(peer, address[0])
        return address[0]

    def _remember(self, peer, ip):
        try:
            self._stranger = (peer[4:8], ip)
        except MemoryError:
            pass  # only a shortcut

    def _starving(self, now, peer):
        # True while strangers are refused for want of heap: for _STARVED_MS after a
        # datagram the heap had no block for, to all but who always passes.
        elapsed = ticks_diff(now, self._starved_at)
        if elapsed < 0 or elapsed >= _STARVED_MS:
            self._starved_at = None
            return False
        return not self._always_passes(peer)

    def _always_passes(self, peer):
        # True if peer is one the door lets through even while closed.
        if self._door_changes != self.door.changes or self._always is not self.always:
            if not self._learn_passes():
                return True  # no room for the list: admit() decides, as without a door
        passes = self._passes
        i = len(passes)
        while i:  # by index: a for loop's iterator takes four frame slots
            i -= 1
            if peer.find(passes[i], 4, 8) == 4:
                return True
        return False

    def _learn_passes(self):
        # The raw IPv4 bytes of who passes a closed door, when that list changed.
        try:
            passes = []
            for ip in self.door.passes() + list(self.always):
                passes.append(address_to_sockaddr((ip, 0))[4:8])
        except MemoryError:
            return False
        self._passes = passes
        self._door_changes = self.door.changes
        self._always = self.always
        return True

    def _small_read(self):
        for size in _FALLBACK_SIZES:
            try:
                data, peer = self.sock.recvfrom(size)
            except OSError:
                return None
            except MemoryError:
                continue
            if len(data) < size:
                return data, peer
            break  # filled the buffer: perhaps cut short
        self.low_memory += 1
        return None

    def send(self, data, address):
        try:
            peer = address
            if self.raw:
                peer = self._to_socket.get(address)
                if peer is None:
                    peer = address_to_sockaddr(address)
                    if len(self._to_socket) < self.cache_size:
                        self._to_socket[address] = peer
            self.sock.sendto(data, peer)
        except (OSError, ValueError, MemoryError):
            self.send_errors += 1
