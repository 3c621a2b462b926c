# The call log's code for the start, a config change and the counters file: reading
# the counters at start, writing them when due, changing the log's bound.
#
# None of it runs per call, so hushgate.calllog.CallLog's methods import it for the
# call and each function here first drops the module again (from sys.modules and the
# package; a call under way keeps what it uses): it costs heap only meanwhile.
from hushgate.compat import const, forget

_RECORD = const(96)  # hushgate.calllog's _RECORD: a const is not importable


def load(log):
    """The counters file: totals and unseen survive a reboot (CallLog.__init__)."""
    forget("calllogfile")
    data, problem = log.store.read_json(log.file)
    if data is None and problem == log.file + " is missing":
        problem = ""  # first boot
    log.problem = problem
    if not isinstance(data, dict):
        return
    for name in ("totals", "unseen"):
        saved = data.get(name)
        if not isinstance(saved, dict):
            continue
        counts = getattr(log, name)
        for key in saved:
            value = saved[key]
            # JSON keys are text; a bounded number of kinds, whatever the file says.
            if isinstance(value, int) and value >= 0 and (key in counts or len(counts) < 32):
                counts[key] = value


def save(log):
    """CallLog.save()'s work, once there is something to write: True if written."""
    forget("calllogfile")
    data = {"version": 1, "totals": log.totals, "unseen": log.unseen}
    try:
        log.store.write_json(log.file, data)
    except OSError as e:
        # A full or failing flash must not stop the calls; the page shows it.
        log.problem = "could not write %s: %s" % (log.file, e)
        return False
    log._dirty = False
    log.problem = ""
    return True


def resize(log, size):
    """CallLog.resize()'s work: a new bound, the newest entries that fit kept."""
    forget("calllogfile")
    keep = log._newest()[:size]
    ring = bytearray(size * _RECORD)
    at = len(keep) * _RECORD
    for item in keep:
        at -= _RECORD
        ring[at : at + _RECORD] = item
    log._ring = ring
    log.size = size
    log._count = len(keep)
    log._next = len(keep) % size
