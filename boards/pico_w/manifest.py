# ruff: noqa: F821  (include, require, package, module come from MicroPython's manifest tool)
# Freeze manifest: the Pico W's own modules (networking bundle with ntptime), the
# firmware and this board's file. Build with the official MicroPython tree, e.g.
#   make -C ports/rp2 BOARD=RPI_PICO_W FROZEN_MANIFEST=$PWD/boards/pico_w/manifest.py
# main.py stays on the file system (deploy copies it): boot runs it from there.
include("$(BOARD_DIR)/manifest.py")
require("ntptime")
include("../../firmware/manifest.py")
module("board.py")
