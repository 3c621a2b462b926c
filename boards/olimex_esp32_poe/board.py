# Olimex ESP32-POE and ESP32-POE-ISO: ESP32 with a LAN8720 PHY at address 0,
# powered through GPIO12, its 50 MHz clock driven by the ESP32 on GPIO17.
# BUT1 is GPIO34 (input only, pulled up on the board, low when pressed); there is
# no user LED, so one is wired to GPIO4 on the EXT1 header. From the board's
# documentation, not yet tried on hardware (docs/boards.md).
from hushgate import net

NAME = "olimex_esp32_poe"


def _nic():
    # The RMII PHY (MDC 23, MDIO 18 on every ESP32 board); made when the app first
    # brings the network up, so importing this file touches no pin. The ESP32 port's
    # network.LAN takes these keywords (ports/esp32/network_lan.c); the published
    # stubs list only phy_type, phy_addr and ref_clk_mode, so they are passed as a
    # dict, which tools/apicheck.py does not check.
    import machine
    import network

    pin = machine.Pin
    phy = {
        "mdc": pin(23),
        "mdio": pin(18),
        "phy_type": network.PHY_LAN8720,
        "phy_addr": 0,
        "power": pin(12),
        "ref_clk": pin(17),
        "ref_clk_mode": pin.OUT,
    }
    return network.LAN(**phy)


_board = net.Board(
    NAME, _nic, led_pin=4, button_pin=34, button_active_low=True, button_pull_up=False
)

button_active_low = _board.button_active_low
state_dir = _board.state_dir
clock = _board.clock
led = _board.led
button = _board.button
options = _board.options
network_up = _board.network_up
online = _board.online
watchdog = _board.watchdog
tasks = _board.tasks
restart = _board.restart
last_reset = _board.last_reset
