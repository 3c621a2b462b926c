# Espressif ESP32-Ethernet-Kit (board A): ESP32-WROVER with an IP101 PHY at
# address 1, powered through GPIO5; the PHY's 50 MHz clock comes in on GPIO0.
# LED and button are wired to the header (GPIO4, GPIO32 to GND). From Espressif's
# documentation, not yet tried on hardware (docs/boards.md).
from hushgate import net

NAME = "esp32_ethernet_kit"

_board = net.Board(
    NAME,
    net.rmii_lan("IP101", 1, power=5, ref_clk=0),
    led_pin=4,
    button_pin=32,
    button_active_low=True,
)


def __getattr__(name):
    # Everything else app.run asks a board for (led, button, clock, options, ...:
    # docs/boards.md) is its Board's.
    return getattr(_board, name)
