# Runs on CPython and MicroPython (tools/mptest.py): the address shapes of both socket
# layers, and the cache that keeps the per-datagram path allocation-free.
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


def test_lwip_shape_passes_through():
    cache = udp.AddressCache(False)
    assert cache.address(("127.0.0.5", 5060)) == ("127.0.0.5", 5060)
    assert cache.peer(("127.0.0.5", 5060)) == ("127.0.0.5", 5060)


def test_raw_shape_converted_both_ways():
    cache = udp.AddressCache(True)
    assert cache.address(LOOPBACK_RAW) == ("127.0.0.5", 5060)
    assert cache.peer(("127.0.0.5", 5060)) == LOOPBACK_RAW


def test_cache_is_bounded():
    class Small(udp.AddressCache):
        size = 4

    cache = Small(True)
    for i in range(50):
        raw = udp.address_to_sockaddr(("10.0.0.%d" % i, 5060))
        assert cache.address(raw) == ("10.0.0.%d" % i, 5060)
        assert cache.peer(("10.0.0.%d" % i, 5060)) == raw
        assert len(cache._to_address) <= 4
        assert len(cache._to_socket) <= 4


def test_known_peer_costs_no_allocation():
    try:
        from micropython import heap_lock, heap_unlock
    except ImportError:
        heap_lock = heap_unlock = None
    cache = udp.AddressCache(True)
    raw = bytes(LOOPBACK_RAW)
    first = cache.address(raw)
    if heap_lock is not None:
        heap_lock()
    try:
        again = cache.address(raw)
    finally:
        if heap_unlock is not None:
            heap_unlock()
    assert again is first


class _TightSocket:
    """recvfrom as on a fragmented heap: buffers above `largest` raise MemoryError."""

    def __init__(self, datagrams, largest):
        self.queue = list(datagrams)
        self.largest = largest
        self.sizes = []

    def recvfrom(self, size):
        self.sizes.append(size)
        if size > self.largest:
            raise MemoryError("no block")
        if not self.queue:
            raise OSError(11)
        data = self.queue.pop(0)
        return data[:size], LOOPBACK_RAW


class _Endpoint(udp.Endpoint):
    """The endpoint's reading logic over a stand-in socket (no bind)."""

    def __init__(self, sock):
        self.sock = sock
        self.low_memory = 0
        self._credit = 0


def _endpoint(sock):
    return _Endpoint(sock)


def test_small_read_takes_a_datagram_the_big_buffer_could_not():
    sock = _TightSocket([b"INVITE sip:x SIP/2.0\r\n\r\n"], largest=1501)
    got = _endpoint(sock)._small_read()
    assert got == (b"INVITE sip:x SIP/2.0\r\n\r\n", LOOPBACK_RAW)
    assert sock.sizes == [1501]


def test_small_read_drops_and_counts_a_datagram_that_may_be_cut():
    sock = _TightSocket([b"x" * 3000], largest=1501)
    ep = _endpoint(sock)
    assert ep._small_read() is None
    assert ep.low_memory == 1
    assert sock.queue == []  # taken off the queue all the same


def test_small_read_falls_back_to_the_smallest_buffer():
    sock = _TightSocket([b"y" * 100], largest=513)
    ep = _endpoint(sock)
    assert ep._small_read() == (b"y" * 100, LOOPBACK_RAW)
    assert sock.sizes == [1501, 513]
    sock = _TightSocket([b"z" * 100], largest=16)
    ep = _endpoint(sock)
    assert ep._small_read() is None and ep.low_memory == 1
    assert sock.sizes == [1501, 513, 16]
