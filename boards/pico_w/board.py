# Raspberry Pi Pico W (and Pico 2 W): Wi-Fi in station mode, SSID and password
# from config.json (wifi_ssid, wifi_password, optional wifi_country). The on-board
# LED ("LED", behind the Wi-Fi chip) and a button from GP15 to GND.
# From the board's documentation, not yet tried on hardware (docs/boards.md).
from hushgate import net

NAME = "pico_w"


def _nic():
    import network

    nic = network.WLAN(network.STA_IF)
    nic.active(True)
    # Wi-Fi power saving delays inbound datagrams by up to a beacon interval.
    pm_none = getattr(network.WLAN, "PM_NONE", None)
    if pm_none is not None:
        nic.config(pm=pm_none)
    return nic


_board = net.Board(NAME, _nic, led_pin="LED", button_pin=15, button_active_low=True)


def __getattr__(name):
    # Everything else app.run asks a board for (led, button, clock, options, ...:
    # docs/boards.md) is its Board's.
    return getattr(_board, name)


async def network_up(config, log=None):
    # The regulatory domain first (which channels and power are allowed), then join.
    if config.get("wifi_country"):
        try:
            import network

            network.country(config["wifi_country"])
        except (AttributeError, ValueError, OSError):
            pass
    return await _board.network_up(config, log)
