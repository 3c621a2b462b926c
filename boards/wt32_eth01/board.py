# WT32-ETH01 (Wireless-Tag): ESP32 with a LAN8720 PHY. Pins from the board's
# documentation (not yet tried on hardware, see docs/boards.md).
# The PHY's 50 MHz oscillator feeds GPIO0 and is switched on by GPIO16; the board
# has no user LED or button, so both are wired to the header (docs/boards.md).
from hushgate import net

NAME = "wt32_eth01"

_board = net.Board(
    NAME,
    net.rmii_lan("LAN8720", 1, power=16, ref_clk=0),
    led_pin=4,
    button_pin=32,
    button_active_low=True,
)


def __getattr__(name):
    # Everything else app.run asks a board for (led, button, clock, options, ...:
    # docs/boards.md) is its Board's.
    return getattr(_board, name)
