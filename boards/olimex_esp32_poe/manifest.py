# ruff: noqa: F821  (include, require, package, module come from MicroPython's manifest tool)
# Freeze manifest: the port's own modules (asyncio, ntptime, ...), the firmware and
# this board's file. Build with the official MicroPython tree, e.g.
#   make -C ports/esp32 BOARD=ESP32_GENERIC \
#        FROZEN_MANIFEST=$PWD/boards/olimex_esp32_poe/manifest.py
# main.py stays on the file system (deploy copies it): boot runs it from there.
include("$(PORT_DIR)/boards/manifest.py")
require("ntptime")
include("../../firmware/manifest.py")
module("board.py")
