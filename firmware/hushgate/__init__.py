# Hushgate: a SIP gatekeeper for one household's ATA.
__version__ = "0.1.0"
