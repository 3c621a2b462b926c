#!/usr/bin/env python3
"""Send scanner datagrams round-robin from several loopback sources at a set rate.

    blast.py SOURCES TARGET_IP TARGET_PORT COUNT RATE TEMPLATE
Prints the seconds it took. Only loopback targets are accepted.
"""

import socket
import sys
import time


def main(argv):
    sources, target_ip, target_port = argv[1].split(","), argv[2], int(argv[3])
    count, rate, template = int(argv[4]), float(argv[5]), argv[6]
    if not target_ip.startswith("127."):
        sys.exit("blast: loopback targets only")
    socks = []
    for ip in sources:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((ip, 0))
        socks.append((s, ip, s.getsockname()[1]))
    messages = [
        template.format(dst=target_ip, src=ip, sport=port, n=i).encode()
        for i, (_s, ip, port) in enumerate(socks)
    ]
    target = (target_ip, target_port)
    start = time.perf_counter()
    n = len(socks)
    for i in range(count):
        k = i % n
        socks[k][0].sendto(messages[k], target)
        if i % 256 == 255:
            ahead = (i + 1) / rate - (time.perf_counter() - start)
            if ahead > 0:
                time.sleep(ahead)
    print(time.perf_counter() - start)


if __name__ == "__main__":
    main(sys.argv)
