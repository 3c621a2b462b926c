# Runs on CPython and MicroPython (tools/mptest.py): the address shapes of both socket
# layers, the endpoint's reads over a stand-in socket, and the cache that keeps the
# per-datagram path allocation-free.
from hushgate import udp

LOOPBACK_RAW = b"\x02\x00\x13\xc4\x7f\x00\x00\x05" + bytes(8)  # 127.0.0.5:5060


def test_sockaddr_to_address():
    assert udp.sockaddr_to_address(LOOPBACK_RAW) == ("127.0.0.5", 5060)
    raw = b"\x02\x00\xff\xff\xc0\x00\x02\x01" + bytes(8)
    assert udp.sockaddr_to_address(raw) == ("192.0.2.1", 65535)


def test_address_to_sockaddr_round_trip():
    assert udp.address_to_sockaddr(("127.0.0.5", 5060)) == LOOPBACK_RAW
    for address in (("10.1.2.3", 1), ("255.255.255.255", 65535), ("0.0.0.0", 0)):
        assert udp.sockaddr_to_address(udp.address_to_sockaddr(address)) == address


def test_bad_addresses_raise_value_error():
    for bad in (b"", b"\x0a\x00\x13\xc4\x7f\x00\x00\x05", b"\x02\x00"):
        try:
            udp.sockaddr_to_address(bad)
        except ValueError:
            continue
        raise AssertionError("accepted %r" % bad)
    for bad in (("127.0.0", 5060), ("127.0.0.256", 5060), ("a.b.c.d", 1)):
        try:
            udp.address_to_sockaddr(bad)
        except ValueError:
            continue
        raise AssertionError("accepted %r" % (bad,))


class _Socket:
    """A stand-in socket: recvfrom pops queued (data, peer) pairs (MSG_PEEK: leaves
    them queued), readinto pops one; buffers above `largest` raise MemoryError, as on
    a fragmented heap; sendto records."""

    def __init__(self, datagrams=(), largest=1 << 20):
        self.queue = list(datagrams)
        self.largest = largest
        self.sizes = []  # of the reads
        self.peeks = []  # of the peeks
        self.sent = []

    def recvfrom(self, size, flags=0):
        (self.peeks if flags == 2 else self.sizes).append(size)  # 2: MSG_PEEK
        if size > self.largest:
            raise MemoryError("no block")  # as the port's buffer, before the read
        if not self.queue:
            raise OSError(11)
        data, peer = self.queue[0] if flags == 2 else self.queue.pop(0)
        return data[:size], peer

    def readinto(self, buf):
        if not self.queue:
            return None
        data = self.queue.pop(0)[0]
        n = min(len(buf), len(data))
        buf[:n] = data[:n]
        return n

    def sendto(self, data, peer):
        self.sent.append((data, peer))


class _LwipSocket(_Socket):
    """recvfrom(size) only, as lwIP's: no peek."""

    def recvfrom(self, size):
        return _Socket.recvfrom(self, size)


class _NoSpare(udp.Endpoint):
    spare = False  # the small reads alone, as once the spare block is used


def _endpoint(datagrams=(), raw=True, largest=1 << 20, kind=_NoSpare, sock=_Socket):
    return kind(None, sock=sock(datagrams, largest), raw=raw)


def test_lwip_shape_passes_through():
    ep = _endpoint([(b"OPTIONS", ("127.0.0.5", 5060))], raw=False)
    assert ep.read() == b"OPTIONS" and ep.source == ("127.0.0.5", 5060)
    ep.send(b"x", ("127.0.0.5", 5060))
    assert ep.sock.sent == [(b"x", ("127.0.0.5", 5060))]


def test_raw_shape_converted_both_ways():
    ep = _endpoint([(b"OPTIONS", LOOPBACK_RAW)])
    assert ep.read() == b"OPTIONS" and ep.source == ("127.0.0.5", 5060)
    ep.send(b"x", ("127.0.0.5", 5060))
    assert ep.sock.sent == [(b"x", LOOPBACK_RAW)]


def test_nothing_queued_reads_none():
    ep = _endpoint()
    assert ep.read() is None and ep.source is None


def test_oversize_is_counted_and_skipped():
    ep = _endpoint([(b"x" * 4097, LOOPBACK_RAW), (b"ok", LOOPBACK_RAW)], kind=udp.Endpoint)
    assert ep.read() is False and ep.oversize == 1
    assert ep.read() == b"ok"
    assert ep.sock.peeks == [0, 1501, 0, 1501] and ep.sock.sizes == [4097]
    ep = _endpoint([(b"x" * 4097, LOOPBACK_RAW), (b"ok", LOOPBACK_RAW)], sock=_LwipSocket)
    assert ep.read() is False and ep.oversize == 1
    assert ep.read() == b"ok"
    assert ep.sock.sizes == [4097, 4097]


def test_a_datagram_let_in_is_peeked_at_in_an_ethernet_frame_s_buffer_first():
    # Where recvfrom can peek (the unix port): the sender from a peek of no bytes,
    # then a datagram that fits 1501 bytes is peeked at whole and taken off the
    # queue: no 4 KB buffer asked of the heap. A bigger one is read in 4 KB.
    invite = b"INVITE sip:x SIP/2.0\r\n" + b"v" * 900
    big = b"SIP/2.0 200 OK\r\n" + b"w" * 2500
    datagrams = [(invite, LOOPBACK_RAW), (big, LOOPBACK_RAW), (b"x", LOOPBACK_RAW)]
    ep = _endpoint(datagrams, kind=udp.Endpoint)
    assert ep.read() == invite and ep.source == ("127.0.0.5", 5060)
    assert ep.sock.peeks == [0, 1501] and ep.sock.sizes == []
    assert ep.read() == big and ep.sock.peeks[2:] == [0, 1501] and ep.sock.sizes == [4097]
    assert ep.read() == b"x" and ep.sock.queue == [] and ep.read() is None


def test_a_peek_without_a_block_loses_nothing_and_tries_the_spare():
    datagrams = [(b"OPTIONS", LOOPBACK_RAW), (b"INFO", LOOPBACK_RAW)]
    sock = _SpareSocket(datagrams, largest=16)
    ep = udp.Endpoint(None, sock=sock, raw=True)
    sock.endpoint = ep
    assert ep.read() == b"OPTIONS" and ep.low_memory == 0
    assert sock.peeks == [0, 1501, 1501] and ep._spare is None  # the spare's block used
    # No spare left, and no block: dropped and counted, not left to block the queue.
    assert ep.read() is False and ep.low_memory == 1 and sock.queue == []
    assert ep.rearm() and ep._spare is not None


def test_no_room_even_for_the_peek_drops_and_counts_the_datagram():
    ep = _endpoint([(b"x", LOOPBACK_RAW), (b"y", LOOPBACK_RAW)], kind=udp.Endpoint)
    ep.sock.largest = -1  # a peek's buffer of no bytes is more than the heap has
    assert ep.read() is False and ep.low_memory == 1
    assert ep.sock.queue == [(b"y", LOOPBACK_RAW)]  # taken off the queue all the same


def test_send_to_a_bad_address_is_counted():
    ep = _endpoint()
    ep.send(b"x", ("not.an.address", 5060))
    assert ep.send_errors == 1 and ep.sock.sent == []


def test_cache_is_bounded():
    ep = _endpoint()
    ep.cache_size = 4
    for i in range(50):
        address = ("10.0.0.%d" % i, 5060)
        raw = udp.address_to_sockaddr(address)
        ep.sock.queue.append((b"OPTIONS", raw))
        assert ep.read() == b"OPTIONS" and ep.source == address
        ep.send(b"x", address)
        assert ep.sock.sent[-1] == (b"x", raw)
        assert len(ep._to_address) <= 4
        assert len(ep._to_socket) <= 4


class _FixedSocket:
    """Gives the same datagram every time, and records allocation-free."""

    def __init__(self, got):
        self.got = got
        self.sent_to = None

    def recvfrom(self, size, flags=0):
        return self.got

    def readinto(self, buf):
        return 1

    def sendto(self, data, peer):
        self.sent_to = peer


def test_known_peer_costs_no_allocation():
    try:
        from micropython import heap_lock, heap_unlock
    except ImportError:
        heap_lock = heap_unlock = None
    # (The block's view is one small object a datagram: no block here.)
    sock = _FixedSocket((b"INVITE", bytes(LOOPBACK_RAW)))
    ep = _NoSpare(None, sock=sock, raw=True)
    ep.read()
    first = ep.source
    ep.send(b"x", first)
    if heap_lock is not None:
        heap_lock()
    try:
        data = ep.read()
        ep.send(data, first)
    finally:
        if heap_unlock is not None:
            heap_unlock()
    assert data == b"INVITE" and ep.source is first
    assert sock.sent_to == LOOPBACK_RAW


# The reads of a socket that cannot peek (lwIP's).
def test_small_read_takes_a_datagram_the_big_buffer_could_not():
    datagrams = [(b"INVITE sip:x SIP/2.0\r\n\r\n", LOOPBACK_RAW)]
    ep = _endpoint(datagrams, largest=1501, sock=_LwipSocket)
    assert ep.read() == b"INVITE sip:x SIP/2.0\r\n\r\n"
    assert ep.source == ("127.0.0.5", 5060)
    assert ep.sock.sizes == [4097, 1501]
    # The next reads stay small: no failed big allocation each time.
    ep.sock.queue.append((b"OPTIONS", LOOPBACK_RAW))
    assert ep.read() == b"OPTIONS"
    assert ep.sock.sizes[2:] == [1501]


def test_small_read_drops_and_counts_a_datagram_that_may_be_cut():
    ep = _endpoint([(b"x" * 3000, LOOPBACK_RAW)], largest=1501, sock=_LwipSocket)
    assert ep.read() is None
    assert ep.low_memory == 1
    assert ep.sock.queue == []  # taken off the queue all the same


def test_small_read_falls_back_to_the_smallest_buffer():
    ep = _endpoint([(b"y" * 100, LOOPBACK_RAW)], largest=513, sock=_LwipSocket)
    assert ep.read() == b"y" * 100
    assert ep.sock.sizes == [4097, 1501, 513]
    ep = _endpoint([(b"z" * 100, LOOPBACK_RAW)], largest=16, sock=_LwipSocket)
    assert ep.read() is None and ep.low_memory == 1
    assert ep.sock.sizes == [4097, 1501, 513, 16]


class _SpareSocket(_Socket):
    """No block on the heap above `largest` but the endpoint's spare: a bigger buffer
    is had once, after the endpoint has let its spare go."""

    spent = False

    def recvfrom(self, size, flags=0):
        if size <= self.largest or self.endpoint._spare is not None or self.spent:
            return _Socket.recvfrom(self, size, flags)
        self.spent = True
        largest, self.largest = self.largest, size
        try:
            return _Socket.recvfrom(self, size, flags)
        finally:
            self.largest = largest


class _LwipSpareSocket(_SpareSocket):
    def recvfrom(self, size):
        return _SpareSocket.recvfrom(self, size)


def test_the_spare_block_takes_a_datagram_the_heap_had_no_block_for():
    datagrams = [(b"SIP/2.0 200 OK\r\n" + b"v" * 2000, LOOPBACK_RAW)]
    sock = _LwipSpareSocket(datagrams, largest=1501)
    ep = udp.Endpoint(None, sock=sock, raw=True)
    sock.endpoint = ep
    assert ep._spare is not None and len(ep._spare) == ep.max_size + 1
    data = ep.read()
    assert data is not None and len(data) == 2016 and ep.low_memory == 0
    assert sock.sizes == [4097, 4097]  # its own block first, then the spare's
    # Used: the next reads are small ones until rearm() takes the spare again.
    sock.queue.append((b"OPTIONS", LOOPBACK_RAW))
    assert ep.read() == b"OPTIONS" and sock.sizes[2:] == [1501]
    assert ep.rearm() and ep._spare is not None
    assert ep.rearm()  # held: nothing taken twice


def test_the_spare_block_is_lent_and_taken_back():
    ep = udp.Endpoint(None, sock=_Socket([], largest=1501), raw=True)
    assert ep.lend_spare() and ep._spare is None  # freed for the web page
    assert not ep.lend_spare()  # nothing more to lend
    assert ep.rearm() and ep._spare is not None


def test_an_endpoint_without_a_spare_holds_no_block():
    ep = _endpoint()
    assert ep._spare is None and not ep.rearm() and not ep.lend_spare()


class _Door:
    """The limiter's side of the door: closed or not, and who passes."""

    def __init__(self, closed, passes=(), banned=()):
        self.is_closed = closed
        self.ips = list(passes)
        self.banned_ips = list(banned)
        self.changes = 0
        self.refused = 0

    def closed(self, now_ms):
        return self.is_closed

    def banned(self, ip, now_ms):
        return ip in self.banned_ips

    def passes(self):
        return self.ips


def _door_endpoint(door, datagrams=()):
    ep = _endpoint(datagrams, kind=udp.Endpoint)
    ep.door = door
    return ep


def test_closed_door_refuses_a_stranger_on_its_raw_address():
    door = _Door(True)
    ep = _door_endpoint(door, [(b"OPTIONS", LOOPBACK_RAW), (b"INVITE", LOOPBACK_RAW)])
    assert ep.read() is False
    assert door.refused == 1 and ep.refused == 1
    assert ep.source is None and ep._to_address == {}  # no address built, none cached
    # Refused on a peek at its sender: never read whole, but taken off the queue.
    assert ep.sock.peeks == [0] and ep.sock.sizes == []
    assert ep.sock.queue == [(b"INVITE", LOOPBACK_RAW)]
    assert ep.read() is False and ep.sock.queue == [] and ep.sock.sizes == []
    assert ep.read() is None  # none queued


def test_a_banned_source_is_refused_before_the_read():
    door = _Door(False, passes=["127.0.0.5"])
    other = udp.address_to_sockaddr(("127.0.0.6", 5060))
    ep = _door_endpoint(door, [(b"OPTIONS", LOOPBACK_RAW), (b"INFO", other)])
    assert ep.read() == b"OPTIONS" and ep.read() == b"INFO"
    # Only who always passes gets a place in the cache: not a stranger.
    assert list(ep._to_address.values()) == [("127.0.0.5", 5060)]
    door.banned_ips += ["127.0.0.5", "127.0.0.6"]
    ep.sock.queue += [(b"OPTIONS", LOOPBACK_RAW), (b"REGISTER", other)]
    assert ep.read() is False and door.refused == 1 and ep.refused == 1
    assert ep.read() is False and door.refused == 2 and ep.refused == 2  # not cached
    # Its ip is kept for next time: a flood from one banned source builds one.
    assert ep._stranger == (other[4:8], "127.0.0.6")
    assert ep.sock.peeks == [0, 1501, 0, 1501, 0, 0] and ep.sock.sizes == []
    assert ep.sock.queue == []
    door.banned_ips = []
    ep.sock.queue.append((b"REGISTER", other))
    assert ep.read() == b"REGISTER" and ep.source == ("127.0.0.6", 5060)


class _Collections:
    """Stands in for the gc module: counts collections."""

    def __init__(self):
        self.count = 0

    def collect(self):
        self.count += 1


def test_a_stranger_let_in_is_read_after_a_collection():
    # What the stranger's datagram leaves behind (its address in the limiter and the
    # cache) then goes to the heap's lowest holes, not among a flood's garbage.
    provider = udp.address_to_sockaddr(("10.0.0.1", 5060))
    stranger = udp.address_to_sockaddr(("10.0.0.3", 5060))
    door = _Door(False, passes=["10.0.0.1"])
    ep = _door_endpoint(door, [(b"a", provider), (b"b", stranger), (b"c", stranger)])
    ep.sock.queue.append((b"d", udp.address_to_sockaddr(("10.0.0.4", 5060))))
    ep.sock.queue.append((b"e", udp.address_to_sockaddr(("10.0.0.5", 5060))))
    real = udp.gc, udp.ticks_ms
    udp.gc = _Collections()
    now = [ep._collected_at + 100]
    udp.ticks_ms = lambda: now[0]
    try:
        assert ep.read() == b"a" and udp.gc.count == 0  # the provider: no collection
        assert ep.read() == b"b" and udp.gc.count == 1  # a stranger let in
        door.banned_ips.append("10.0.0.3")
        assert ep.read() is False and udp.gc.count == 1  # refused (banned): none
        now[0] += 99
        assert ep.read() == b"d" and udp.gc.count == 1  # at most one in 100 ms
        now[0] += 1
        assert ep.read() == b"e" and udp.gc.count == 2
    finally:
        udp.gc, udp.ticks_ms = real


def test_a_stranger_is_refused_a_while_after_the_heap_had_no_block():
    # A stranger whose read fails never reaches the limiter, whose door would then
    # stay open to a flood costing a failed allocation a datagram: the endpoint
    # refuses strangers itself for a second, counted as low_memory.
    provider = udp.address_to_sockaddr(("10.0.0.1", 5060))
    stranger = udp.address_to_sockaddr(("10.0.0.3", 5060))
    door = _Door(False, passes=["10.0.0.1"])
    ep = _door_endpoint(door, [(b"x", stranger), (b"y", stranger), (b"z", provider)])
    ep.sock.largest = -1  # no room even for a peek
    real = udp.ticks_ms
    now = [1000]
    udp.ticks_ms = lambda: now[0]
    try:
        assert ep.read() is False and ep.low_memory == 1
        ep.sock.largest = 1 << 20
        assert ep.read() is False and ep.low_memory == 2  # refused at the door
        assert ep.sock.peeks == [0, 0] and ep.sock.queue == [(b"z", provider)]
        assert ep.read() == b"z"  # who always passes is still read
        now[0] += 1000
        ep.sock.queue.append((b"w", stranger))
        assert ep.read() == b"w" and ep.low_memory == 2 and door.refused == 0
    finally:
        udp.ticks_ms = real


def test_a_recvfrom_without_flags_turns_the_peek_off():
    door = _Door(True)
    datagrams = [(b"OPTIONS", LOOPBACK_RAW), (b"OPTIONS", LOOPBACK_RAW)]
    ep = _NoSpare(None, sock=_LwipSocket(datagrams), raw=True)
    ep.door = door
    assert ep.read() is False and not ep.peek
    # The door asked after the read instead.
    assert ep.sock.sizes == [4097] and door.refused == 1
    assert ep.read() is False and door.refused == 2 and ep.sock.queue == []


def test_open_door_lets_a_stranger_in():
    door = _Door(False)
    ep = _door_endpoint(door, [(b"OPTIONS", LOOPBACK_RAW)])
    assert ep.read() == b"OPTIONS" and ep.source == ("127.0.0.5", 5060)
    assert door.refused == 0
    # A flood's first sources, let in, fill the cache: closed, the door refuses
    # them all the same.
    door.is_closed = True
    ep.sock.queue.append((b"OPTIONS", LOOPBACK_RAW))
    assert ep.read() is False and door.refused == 1


def test_closed_door_lets_through_who_the_limiter_and_the_proxy_always_do():
    door = _Door(True, passes=["10.0.0.1"])
    provider = udp.address_to_sockaddr(("10.0.0.1", 5070))
    ata = udp.address_to_sockaddr(("10.0.0.2", 5060))
    other = udp.address_to_sockaddr(("10.0.0.3", 5060))
    ep = _door_endpoint(door, [(b"a", provider), (b"b", ata), (b"c", other)])
    ep.always = ("10.0.0.2",)
    assert ep.read() == b"a" and ep.source == ("10.0.0.1", 5070)
    assert ep.read() == b"b" and ep.source == ("10.0.0.2", 5060)
    assert ep.read() is False and door.refused == 1
    # The limiter's list changed (a new exempt or trusted address): asked again.
    door.ips = ["10.0.0.3"]
    door.changes += 1
    ep.sock.queue.append((b"c", other))
    assert ep.read() == b"c" and ep.source == ("10.0.0.3", 5060)
    ep.always = ()
    fresh = udp.address_to_sockaddr(("10.0.0.2", 5061))
    ep.sock.queue.append((b"d", fresh))
    assert ep.read() is False and door.refused == 2


def test_reads_take_no_frame_from_the_heap():
    # A frame too big for MicroPython's C stack budget comes from the heap on each
    # call and is freed on return: only the count of bytes ever allocated shows it.
    try:
        from micropython import mem_total
    except ImportError:
        return  # CPython, or no statistics in this build
    stranger = (b"OPTIONS", udp.address_to_sockaddr(("10.0.0.9", 5060)))
    known = (b"INVITE", bytes(LOOPBACK_RAW))
    door = _Door(True, passes=["127.0.0.5"])  # the known peer: the provider, say
    sock = _FixedSocket(known)
    ep = _NoSpare(None, sock=sock, raw=True)  # (the block's view: one small object)
    ep.read()
    ep.door = door
    sock.got = stranger
    ep.read()  # builds the door's list once
    for got in (known, stranger):
        sock.got = got
        before = mem_total()
        for _ in range(50):
            ep.read()
        assert mem_total() == before, (got, mem_total() - before)
    assert door.refused == 51
    # The door open, the known peer banned: refused at the peek as well.
    door.is_closed = False
    door.banned_ips.append("127.0.0.5")
    sock.got = known
    before = mem_total()
    for _ in range(50):
        assert ep.read() is False
    assert mem_total() == before and door.refused == 101


def test_a_refusal_allocates_nothing():
    # Past the port's own recvfrom (here a stand-in returning a ready tuple), a
    # refused datagram takes nothing from the heap: the door's checks and the read
    # that drops it.
    try:
        from micropython import heap_lock, heap_unlock
    except ImportError:
        return  # CPython: test_reads_take_no_frame_from_the_heap's checks stand
    stranger = (b"OPTIONS", udp.address_to_sockaddr(("10.0.0.9", 5060)))
    known = (b"INVITE", bytes(LOOPBACK_RAW))
    door = _Door(True, passes=["127.0.0.1"], banned=["127.0.0.5"])
    sock = _FixedSocket(known)
    ep = udp.Endpoint(None, sock=sock, raw=True)
    ep.read()  # caches the known peer's address
    ep.door = door
    sock.got = stranger
    ep.read()  # builds the door's list once
    results = []
    for closed, got in ((True, stranger), (False, known)):
        door.is_closed = closed
        sock.got = got
        heap_lock()
        try:
            result = ep.read()
        finally:
            heap_unlock()
        results.append(result)
    assert results == [False, False] and door.refused == 3


class _NoRoomCache(dict):
    """A cache whose growth finds no room in the heap."""

    def __setitem__(self, key, value):
        raise MemoryError("no block")


def test_no_room_for_an_address_drops_the_datagram_not_the_loop():
    ep = _endpoint([(b"OPTIONS", LOOPBACK_RAW), (b"OPTIONS", LOOPBACK_RAW)])
    ep._to_address = _NoRoomCache()
    assert ep.read() is False and ep.low_memory == 1
    ep._to_address = {}
    assert ep.read() == b"OPTIONS" and ep.source == ("127.0.0.5", 5060)


def test_no_room_to_send_is_counted():
    ep = _endpoint()
    ep._to_socket = _NoRoomCache()
    ep.send(b"x", ("127.0.0.5", 5060))
    assert ep.send_errors == 1


def test_queued_without_a_poller_leaves_it_to_read():
    # A stand-in socket cannot be polled (nor can any socket on CPython): queued()
    # then says "perhaps", and read() tells.
    ep = _endpoint()
    assert ep.queued() is True and ep.read() is None


def test_queued_tells_a_waiting_datagram_without_reading_it():
    import socket

    address = ("127.0.0.1", 47183)
    ep = udp.Endpoint(address)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        if ep._poller is None:
            return  # CPython: no ipoll, see the test above
        try:
            from micropython import heap_lock, heap_unlock
        except ImportError:
            heap_lock = heap_unlock = lambda: None
        ep.queued()
        heap_lock()  # asking takes nothing from the heap, unlike a read that finds none
        try:
            empty = ep.queued()
        finally:
            heap_unlock()
        assert empty is False
        sender.sendto(b"OPTIONS", udp.address_to_sockaddr(address) if ep.raw else address)
        for _ in range(1000):
            if ep.queued():
                break
        else:
            raise AssertionError("the datagram never showed as queued")
        assert ep.read() == b"OPTIONS"
        assert ep.queued() is False and ep.read() is None
    finally:
        sender.close()
        ep.sock.close()


def test_the_door_on_a_real_socket_drops_whole_datagrams_and_reads_whole_ones():
    import socket
    import time

    address = ("127.0.0.1", 47184)
    ep = udp.Endpoint(address)
    senders = []
    try:
        if not ep.raw:
            return  # CPython's sockets: (ip, port) tuples, no door (see above)
        assert ep.peek
        ep.door = _Door(True, passes=["127.0.0.7"])
        big = b"INVITE " + b"x" * 3000  # more than a peek or the drop's one byte
        for ip in ("127.0.0.6", "127.0.0.7"):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(socket.getaddrinfo(ip, 0)[0][-1])
            senders.append(s)
        to = udp.address_to_sockaddr(address)
        senders[0].sendto(big, to)
        senders[1].sendto(big, to)
        senders[0].sendto(b"OPTIONS", to)
        got = []
        for _ in range(200):
            data = ep.read()
            if data is not None:
                # a view of the endpoint's block, which the next read reuses: copied
                got.append(data if data is False else (bytes(data), ep.source[0]))
            if len(got) == 3:
                break
            time.sleep(0.005)
        assert got == [False, (big, "127.0.0.7"), False]
        assert ep.door.refused == 2 and ep.read() is None
    finally:
        for s in senders:
            s.close()
        ep.sock.close()


def test_lwip_shape_goes_without_the_door():
    # The app gives every endpoint the limiter as its door; lwIP's (ip, port) tuples
    # are left to admit().
    ep = _endpoint([(b"OPTIONS", ("127.0.0.5", 5060))], raw=False, sock=_LwipSocket)
    ep.door = _Door(True)
    assert ep.read() == b"OPTIONS" and ep.source == ("127.0.0.5", 5060)
    assert ep.door.refused == 0
