# Olimex ESP32-POE and ESP32-POE-ISO: ESP32 with a LAN8720 PHY at address 0,
# powered through GPIO12, its 50 MHz clock driven by the ESP32 on GPIO17.
# BUT1 is GPIO34 (input only, pulled up on the board, low when pressed); there is
# no user LED, so one is wired to GPIO4 on the EXT1 header. From the board's
# documentation, not yet tried on hardware (docs/boards.md).
from hushgate import net

NAME = "olimex_esp32_poe"

_board = net.Board(
    NAME,
    net.rmii_lan("LAN8720", 0, power=12, ref_clk=17, ref_clk_out=True),
    led_pin=4,
    button_pin=34,
    button_active_low=True,
    button_pull_up=False,
)


def __getattr__(name):
    # Everything else app.run asks a board for (led, button, clock, options, ...:
    # docs/boards.md) is its Board's.
    return getattr(_board, name)
