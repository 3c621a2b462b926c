# Boots the firmware from a ROMFS image on the MicroPython unix port, as a board
# whose MicroPython has a ROM partition does: the image mounted at /rom, first on
# sys.path, its .mpy files run in place (their bytecode never copied to the heap).
#
#   micropython -X heapsize=N tools/romboot.py IMAGE MAIN_PY [main.py's options]
#
# The unix port has no ROM partition, so the image is read onto the heap first;
# tools/build.py --romfs says how much larger N must be for the firmware to keep the
# heap it is meant to have, and the board module is told what the image takes
# (heap_reserved), so that the heap the app reports is the firmware's own. MAIN_PY
# (the composition root, kept as source on a board's file system) then runs with the
# options as its command line.
import gc
import os
import sys

import vfs


def mount(path):
    """The image at /rom, first on sys.path; returns the heap it takes (bytes).
    tools/bench/memory_mp.py mounts the firmware the same way."""
    gc.collect()
    before = gc.mem_alloc()
    image = bytearray(os.stat(path)[6])  # read in place: no growing buffer at boot
    with open(path, "rb") as f:
        f.readinto(image)
    vfs.mount(vfs.VfsRom(image), "/rom")
    sys.path.insert(0, "/rom")
    gc.collect()
    return gc.mem_alloc() - before


def _main_code(argv):
    # The board told what the image takes, main.py compiled with its command line.
    reserved = mount(argv[1])
    import board  # from the image just mounted

    board.heap_reserved = reserved  # not the firmware's: the app's heap figures leave it out
    main = argv[2]
    sys.argv[:] = [main] + argv[3:]
    with open(main) as f:
        return compile(f.read(), main, "exec")


if __name__ == "__main__":
    code = _main_code(sys.argv)
    gc.collect()
    exec(code, {"__name__": "__main__"})
