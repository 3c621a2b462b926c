# WT32-ETH01 (Wireless-Tag): ESP32 with a LAN8720 PHY. Pins from the board's
# documentation (not yet tried on hardware, see docs/boards.md).
# The PHY's 50 MHz oscillator feeds GPIO0 and is switched on by GPIO16; the board
# has no user LED or button, so both are wired to the header (docs/boards.md).
from hushgate import net

NAME = "wt32_eth01"


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
        "phy_addr": 1,
        "power": pin(16),
        "ref_clk": pin(0),
        "ref_clk_mode": pin.IN,
    }
    return network.LAN(**phy)


_board = net.Board(NAME, _nic, led_pin=4, button_pin=32, button_active_low=True)

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
